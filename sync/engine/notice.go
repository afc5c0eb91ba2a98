package engine

import (
	"context"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// Opener opens a configured backend's client; *Engine is one. The live
// sockets and the webhook handler take one: they reach a server's wire
// format only through its client (backend.Listener,
// backend.WebhookReceiver).
type Opener interface {
	Open(ctx context.Context, b state.Backend) (backend.Backend, *backend.Transport, error)
}

// NoticeEvent is the event for an acted-on notice from backend name's
// server (a webhook or a socket message, parsed by its client).
func NoticeEvent(name string, n backend.Notice) Event {
	var kind EventKind
	switch n.Kind {
	case backend.NoticePlayed:
		kind = EventPlayed
	case backend.NoticeUnplayed:
		kind = EventUnplayed
	case backend.NoticeAdded:
		kind = EventAdded
	default:
		kind = EventProgress // the safe reading: never flips the watched flag
	}
	return Event{Backend: name, ItemID: n.ItemID, Kind: kind, At: n.At}
}
