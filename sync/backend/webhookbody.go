package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
)

// maxField is the largest form field WebhookJSON reads; the webhook
// handler caps the whole body before this.
const maxField = 4 << 20

// WebhookJSON returns the JSON a webhook carries: the named field of a
// multipart or url-encoded form, or the body itself when it is not a
// form. A broken form, or one without the field, is ErrBadPayload.
func WebhookJSON(contentType string, body []byte, field string) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "" // no or unparsable Content-Type: look at the body
	}
	switch mt {
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return nil, BadPayload("multipart body without a boundary")
		}
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, BadPayload("no %q part", field)
			}
			if err != nil {
				return nil, BadPayload("broken multipart body: %v", err)
			}
			if part.FormName() != field {
				continue // the thumbnail, most likely
			}
			b, err := io.ReadAll(io.LimitReader(part, maxField))
			if err != nil {
				return nil, BadPayload("broken multipart body: %v", err)
			}
			return b, nil
		}
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, BadPayload("broken form body: %v", err)
		}
		if !v.Has(field) {
			return nil, BadPayload("no %q field", field)
		}
		return []byte(v.Get(field)), nil
	}
	return body, nil
}

// DecodeWebhookObject decodes one JSON object into v; anything else (an
// array, null, trailing data, invalid JSON) is ErrBadPayload.
func DecodeWebhookObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return BadPayload("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return BadPayload("not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadPayload("data after the JSON object")
	}
	return nil
}

// WebhookItemID checks an item id from a payload and writes it as the
// client does (guid: a Jellyfin GUID, lower case without dashes). Ids go
// into request paths and comma lists, so only a plain token is accepted;
// anything else is ErrBadPayload.
func WebhookItemID(id string, guid bool) (string, error) {
	id = strings.TrimSpace(id)
	if guid {
		id = NormalizeID(id)
	}
	if !ValidItemID(id) {
		return "", BadPayload("no usable item id")
	}
	return id, nil
}
