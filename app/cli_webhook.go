package app

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"

	"playmark/sync/backend/kinds"
	"playmark/sync/webhook"
)

// webhooksCmd shows or sets the webhook listener and prints each
// backend's webhook URL with where to paste it:
//
//	playmark webhooks                 the listener and the URLs
//	playmark webhooks --listen ADDR   listen on ADDR (host:port) from the next start
//	playmark webhooks --off           no listener
//
// A backend's secret is made the first time its URL is shown.
func (c *cli) webhooksCmd(args []string) error {
	fs := flag.NewFlagSet("webhooks", flag.ContinueOnError)
	listen := fs.String("listen", "", "")
	off := fs.Bool("off", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("webhooks: unknown argument %q (want --listen ADDR or --off)", pos[0])
	}
	set := flagsSet(fs)
	if set["listen"] && *off {
		return usagef("webhooks: --listen and --off together")
	}
	if set["listen"] {
		if err := validateListen(*listen); err != nil {
			return usageError{err.Error()}
		}
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx := context.Background()
	st, err := c.store.Settings(ctx)
	if err != nil {
		return err
	}
	if set["listen"] || *off {
		st.WebhookListen = *listen
		if *off {
			st.WebhookListen = ""
		}
		if err := c.store.SaveSettings(ctx, st); err != nil {
			return err
		}
	}
	if st.WebhookListen == "" {
		fmt.Fprintln(c.stdout, "Webhooks are off.")
		fmt.Fprintln(c.stdout, "Turn them on (the servers must reach this machine on that port): playmark webhooks --listen 0.0.0.0:8787")
		fmt.Fprintln(c.stdout, "No inbound port? Live notifications need none: playmark backend set NAME --live on")
		return nil
	}
	fmt.Fprintf(c.stdout, "Webhooks: listening on %s while the desktop app or playmark daemon runs (restart it after a change).\n", st.WebhookListen)
	bs, err := c.store.Backends(ctx)
	if err != nil {
		return err
	}
	if len(bs) == 0 {
		fmt.Fprintln(c.stdout, "No backends yet: add one, then run playmark webhooks again for its URL.")
		return nil
	}
	host := urlHost(st.WebhookListen)
	fmt.Fprintln(c.stdout, "Paste each backend's URL into its server:")
	for _, b := range bs {
		if b.Options.WebhookSecret == "" {
			b.Options.WebhookSecret = webhook.NewSecret()
			if err := c.store.UpdateBackend(ctx, b); err != nil {
				return err
			}
		}
		fmt.Fprintf(c.stdout, "\n  %s (%s)\n    http://%s%s%s\n    %s\n", b.Name, b.Kind, host, webhook.Path, b.Options.WebhookSecret, kinds.WebhookHint(b.Kind))
	}
	fmt.Fprintln(c.stdout, "\nEach URL is that backend's secret: anyone who has it can make Playmark re-read items from that server, nothing more.")
	return nil
}

// validateListen checks a listen address: host:port, the host optional
// (all interfaces), the port fixed (1-65535), since the servers keep the URL.
func validateListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: want HOST:PORT, e.g. 0.0.0.0:8787", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("--listen %q: the port must be a number from 1 to 65535", addr)
	}
	if host != "" && net.ParseIP(host) == nil {
		if _, err := net.LookupHost(host); err != nil {
			return fmt.Errorf("--listen %q: unknown host %q", addr, host)
		}
	}
	return nil
}

// urlHost is the host:port the servers should use to reach a listener on
// addr: the machine's name when it listens on every interface.
func urlHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "THIS-MACHINE"
		}
	}
	return net.JoinHostPort(host, port)
}
