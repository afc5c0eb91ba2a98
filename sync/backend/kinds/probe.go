package kinds

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"playmark/sync/backend"
)

// Probe asks the server at url what it is without a token: Plex
// answers GET /identity with its machineIdentifier; Jellyfin and Emby
// answer GET /System/Info/Public, Jellyfin with ProductName "Jellyfin
// Server", Emby without one. "" when neither says (a proxy in front, an
// old server): the caller then trusts the configured type.
func Probe(ctx context.Context, tr *backend.Transport, url string) (backend.Kind, error) {
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(url, "/")+path, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", backend.ErrUnreachable, err)
		}
		req.Header.Set("Accept", "application/json")
		resp, err := tr.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	}
	body, err := get("/identity")
	if errors.Is(err, backend.ErrUnreachable) || ctx.Err() != nil {
		return "", err
	}
	if err == nil && plexIdentity(body) {
		return backend.Plex, nil
	}
	body, err = get("/System/Info/Public")
	if errors.Is(err, backend.ErrUnreachable) || ctx.Err() != nil {
		return "", err
	}
	if err != nil {
		return "", nil
	}
	var info struct {
		ID          string `json:"Id"`
		ProductName string `json:"ProductName"`
	}
	if json.Unmarshal(body, &info) != nil || info.ID == "" {
		return "", nil
	}
	if strings.Contains(strings.ToLower(info.ProductName), "jellyfin") {
		return backend.Jellyfin, nil
	}
	if info.ProductName == "" || strings.Contains(strings.ToLower(info.ProductName), "emby") {
		return backend.Emby, nil
	}
	return "", nil
}

// plexIdentity reports whether body is Plex's /identity answer, in JSON
// or XML.
func plexIdentity(body []byte) bool {
	var j struct {
		MediaContainer struct {
			MachineIdentifier string `json:"machineIdentifier"`
		} `json:"MediaContainer"`
	}
	if json.Unmarshal(body, &j) == nil && j.MediaContainer.MachineIdentifier != "" {
		return true
	}
	var x struct {
		XMLName           xml.Name
		MachineIdentifier string `xml:"machineIdentifier,attr"`
	}
	body = bytes.TrimSpace(body)
	return len(body) > 0 && body[0] == '<' && xml.Unmarshal(body, &x) == nil &&
		x.XMLName.Local == "MediaContainer" && x.MachineIdentifier != ""
}
