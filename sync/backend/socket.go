package backend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// StreamClient is an HTTP client for long-lived connections to this
// Transport's server (a notification socket's handshake): the same TLS
// pin and redirect rule as every request, without the per-request
// timeout or the retries. The caller bounds it with its context.
func (t *Transport) StreamClient() *http.Client {
	return &http.Client{Transport: t.client.Transport, CheckRedirect: CheckRedirect}
}

// DialSocket opens a notification websocket at u with headers h. A
// refused token wraps ErrUnauthorized; the error never shows u's query
// (which may carry the token).
func DialSocket(ctx context.Context, hc *http.Client, u string, h http.Header) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPHeader: h, HTTPClient: hc})
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return nil, fmt.Errorf("opening the notification socket: %w (%d)", ErrUnauthorized, resp.StatusCode)
		}
		return nil, fmt.Errorf("opening the notification socket: %w", redactQuery(err, u))
	}
	c.SetReadLimit(1 << 20)
	return c, nil
}

// redactQuery keeps the query of a socket URL out of an error message.
func redactQuery(err error, u string) error {
	if i := strings.IndexByte(u, '?'); i >= 0 && strings.Contains(err.Error(), u[i:]) {
		return errors.New(strings.ReplaceAll(err.Error(), u[i:], "?…"))
	}
	return err
}

// Defaults of ListenOptions.
func (o ListenOptions) withDefaults() ListenOptions {
	if o.Ping <= 0 {
		o.Ping = 30 * time.Second
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 30 * time.Second
	}
	return o
}

// SocketClient is the client a Listen handshake goes through: opt's, or
// one over tr.
func SocketClient(opt ListenOptions, tr *Transport) *http.Client {
	if opt.HTTPClient != nil {
		return opt.HTTPClient
	}
	return tr.StreamClient()
}

// ServeSocket runs a connected socket until it fails or ctx ends, and
// returns why: handle gets each text message, with a send function for
// answers; pings run every opt.Ping. When keepAliveMsg is not nil it is
// sent every opt.KeepAlive, or every interval received on keepAlive once
// the server names one.
func ServeSocket(ctx context.Context, c *websocket.Conn, opt ListenOptions, handle func(msg []byte, send func([]byte)),
	keepAlive <-chan time.Duration, keepAliveMsg []byte) error {
	opt = opt.withDefaults()
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		c.CloseNow()
		wg.Wait()
	}()
	errc := make(chan error, 1)
	fail := func(err error) { // the first reason wins; never blocks
		select {
		case errc <- err:
		default:
		}
	}
	send := func(b []byte) {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := c.Write(wctx, websocket.MessageText, b); err != nil {
			fail(fmt.Errorf("writing: %w", err))
		}
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				fail(fmt.Errorf("reading: %w", err))
				return
			}
			if typ == websocket.MessageText {
				handle(msg, send)
			}
		}
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(opt.Ping)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				err := c.Ping(pctx)
				cancel()
				if err != nil && ctx.Err() == nil {
					fail(fmt.Errorf("no answer to a ping: %w", err))
					return
				}
			}
		}
	}()
	var tick <-chan time.Time
	var ticker *time.Ticker
	if keepAliveMsg != nil {
		ticker = time.NewTicker(opt.KeepAlive)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case <-ctx.Done():
			c.Close(websocket.StatusNormalClosure, "")
			return ctx.Err()
		case err := <-errc:
			return err
		case d := <-keepAlive:
			if ticker != nil {
				ticker.Reset(d)
				send(keepAliveMsg)
			}
		case <-tick:
			send(keepAliveMsg)
		}
	}
}
