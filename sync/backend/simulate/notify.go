package simulate

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// notifier pushes a simulated server's changes out, the two ways real
// servers do: webhooks POSTed to Options.WebhookURL, and messages on the
// notification websockets clients keep open. Neither ever blocks the API:
// webhooks wait in a bounded queue for one sender goroutine (dropped when
// it is full, as a busy server drops them), and a websocket that does not
// keep up is closed.
type notifier struct {
	ctx    context.Context // ends when the server closes
	cancel context.CancelFunc
	client *http.Client
	queue  chan webhookPost
	done   chan struct{}

	mu      sync.Mutex
	hookURL string
	sockets map[*socket]struct{}

	delivered  atomic.Int64 // webhooks answered 2xx
	keepAlives atomic.Int64 // KeepAlive messages received from clients
}

type webhookPost struct {
	contentType, userAgent string
	body                   []byte
}

// socket is one connected notification websocket.
type socket struct {
	conn *websocket.Conn
	send chan []byte
	// who the socket belongs to, for filtering: a Plex account id, or a
	// Jellyfin/Emby user id ("" for an API key, which sees every user).
	user  string
	admin bool
	stop  context.CancelFunc
}

func newNotifier(hookURL string) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	n := &notifier{
		ctx: ctx, cancel: cancel,
		client:  &http.Client{Timeout: 5 * time.Second},
		queue:   make(chan webhookPost, 256),
		done:    make(chan struct{}),
		hookURL: hookURL,
		sockets: map[*socket]struct{}{},
	}
	go n.sender()
	return n
}

func (n *notifier) setWebhookURL(u string) {
	n.mu.Lock()
	n.hookURL = u
	n.mu.Unlock()
}

func (n *notifier) webhookURL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hookURL
}

// post queues a webhook; it never blocks. Nothing is queued when no URL
// is set.
func (n *notifier) post(contentType, userAgent string, body []byte) {
	if n.webhookURL() == "" {
		return
	}
	select {
	case n.queue <- webhookPost{contentType: contentType, userAgent: userAgent, body: body}:
	default: // full: dropped, as a real server drops what it cannot send
	}
}

// sender delivers queued webhooks in order, once each (real servers do not
// retry), until the server closes.
func (n *notifier) sender() {
	defer close(n.done)
	for {
		select {
		case <-n.ctx.Done():
			return
		case p := <-n.queue:
			u := n.webhookURL()
			if u == "" {
				continue
			}
			req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, u, bytes.NewReader(p.body))
			if err != nil {
				continue
			}
			req.Header.Set("Content-Type", p.contentType)
			req.Header.Set("User-Agent", p.userAgent)
			resp, err := n.client.Do(req)
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				n.delivered.Add(1)
			}
		}
	}
}

// serveSocket upgrades r to a websocket and serves it until the client
// goes, the server closes, or the client stays silent longer than idle
// (0: no limit). greeting is sent first; onMessage sees each text message
// the client sends and may answer through reply.
func (n *notifier) serveSocket(w http.ResponseWriter, r *http.Request, user string, admin bool, idle time.Duration,
	greeting []byte, onMessage func(msg []byte, reply func([]byte))) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	ctx, stop := context.WithCancel(n.ctx)
	defer stop()
	s := &socket{conn: c, send: make(chan []byte, 64), user: user, admin: admin, stop: stop}
	n.mu.Lock()
	n.sockets[s] = struct{}{}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.sockets, s)
		n.mu.Unlock()
		c.CloseNow()
	}()
	reply := func(b []byte) {
		select {
		case s.send <- b:
		default:
			stop()
		}
	}
	if greeting != nil {
		reply(greeting)
	}
	var seen atomic.Int64
	seen.Store(time.Now().UnixNano())
	go func() {
		defer stop()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			seen.Store(time.Now().UnixNano())
			if typ == websocket.MessageText && onMessage != nil {
				onMessage(msg, reply)
			}
		}
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			c.Close(websocket.StatusGoingAway, "")
			return
		case b := <-s.send:
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
		case <-tick.C:
			if idle > 0 && time.Since(time.Unix(0, seen.Load())) > idle {
				c.Close(websocket.StatusPolicyViolation, "no keep-alive")
				return
			}
		}
	}
}

// broadcast sends msg to every socket match accepts; a socket whose queue
// is full is closed (its client reconnects and catches up).
func (n *notifier) broadcast(match func(user string, admin bool) bool, msg []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for s := range n.sockets {
		if !match(s.user, s.admin) {
			continue
		}
		select {
		case s.send <- msg:
		default:
			s.stop()
		}
	}
}

// listening says whether anyone would hear a change: a webhook URL is set
// or a websocket is connected.
func (n *notifier) listening() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hookURL != "" || len(n.sockets) > 0
}

// socketCount is the number of connected websockets.
func (n *notifier) socketCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.sockets)
}

// dropSockets closes every websocket, as a network blip or a restart does.
func (n *notifier) dropSockets() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for s := range n.sockets {
		s.stop()
	}
}

// close stops the sender and closes every websocket (http.Server.Close
// does not: they are hijacked connections).
func (n *notifier) close() {
	n.cancel()
	<-n.done
}
