package plex

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"playmark/sync/backend"
)

// The JSON shapes PMS answers with (Accept: application/json). Only the
// fields Playmark reads are declared; PMS sends many more.

// flexInt and flexString are the shared readers of a field PMS sends as
// a number one time and a string the next (the official spec's examples
// have "size": "1"; the episode listing's container has
// "grandparentRatingKey": 22).
type (
	flexInt    = backend.FlexInt
	flexString = backend.FlexString
)

type wireGUID struct {
	ID string `json:"id"`
}

type wirePart struct {
	File string `json:"file"`
}

type wireMedia struct {
	Duration flexInt    `json:"duration"`
	Part     []wirePart `json:"Part"`
}

// wireMeta is one Metadata element.
type wireMeta struct {
	RatingKey            flexString  `json:"ratingKey"`
	Type                 string      `json:"type"`
	Title                string      `json:"title"`
	Year                 flexInt     `json:"year"`
	GUID                 string      `json:"guid"`
	GrandparentGUID      string      `json:"grandparentGuid"`
	Guid                 []wireGUID  `json:"Guid"`
	GrandparentRatingKey flexString  `json:"grandparentRatingKey"`
	GrandparentTitle     string      `json:"grandparentTitle"`
	ParentIndex          *flexInt    `json:"parentIndex"`
	Index                *flexInt    `json:"index"`
	LibrarySectionID     flexString  `json:"librarySectionID"`
	ViewCount            flexInt     `json:"viewCount"`
	ViewOffset           flexInt     `json:"viewOffset"`
	LastViewedAt         flexInt     `json:"lastViewedAt"`
	Duration             flexInt     `json:"duration"`
	AddedAt              flexInt     `json:"addedAt"`
	Media                []wireMedia `json:"Media"`
}

func (m *wireMeta) guidIDs() []string {
	ids := make([]string, 0, len(m.Guid))
	for _, g := range m.Guid {
		ids = append(ids, g.ID)
	}
	return ids
}

type wireSection struct {
	Key   flexString `json:"key"`
	Type  string     `json:"type"`
	Title string     `json:"title"`
}

type wireAccount struct {
	ID   flexInt `json:"id"`
	Name string  `json:"name"`
}

// wireHead is every MediaContainer field but Metadata. The paging fields
// are pointers because their absence matters.
type wireHead struct {
	Size              *flexInt
	Offset            *flexInt
	TotalSize         *flexInt
	LibrarySectionID  flexString
	MachineIdentifier string
	Version           string
	FriendlyName      string
	Directory         []wireSection
	Account           []wireAccount
}

func (h *wireHead) field(key string) any {
	switch key {
	case "size":
		return &h.Size
	case "offset":
		return &h.Offset
	case "totalSize":
		return &h.TotalSize
	case "librarySectionID":
		return &h.LibrarySectionID
	case "machineIdentifier":
		return &h.MachineIdentifier
	case "version":
		return &h.Version
	case "friendlyName":
		return &h.FriendlyName
	case "Directory":
		return &h.Directory
	case "Account":
		return &h.Account
	}
	return nil
}

var errNoContainer = errors.New("no MediaContainer")

// decodeContainer reads {"MediaContainer": {...}} from r one Metadata
// element at a time, so that a page never sits in memory twice: each
// element goes to each (which may stop the decoding by returning an
// error), every other known field to head.
func decodeContainer(r io.Reader, head *wireHead, each func(*wireMeta) error) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	found := false
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return err
		}
		if key != "MediaContainer" {
			if err := skipValue(dec); err != nil {
				return err
			}
			continue
		}
		found = true
		if err := decodeBody(dec, head, each); err != nil {
			return err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if !found {
		return errNoContainer
	}
	return nil
}

func decodeBody(dec *json.Decoder, head *wireHead, each func(*wireMeta) error) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return err
		}
		if key != "Metadata" {
			if dst := head.field(key); dst != nil {
				if err := dec.Decode(dst); err != nil {
					return fmt.Errorf("MediaContainer.%s: %w", key, err)
				}
			} else if err := skipValue(dec); err != nil {
				return err
			}
			continue
		}
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("MediaContainer.Metadata: %w", err)
		}
		if tok == nil {
			continue // "Metadata": null, as some servers write an empty list
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return fmt.Errorf("MediaContainer.Metadata: unexpected %v, want [", tok)
		}
		for dec.More() {
			var m wireMeta
			if err := dec.Decode(&m); err != nil {
				return fmt.Errorf("MediaContainer.Metadata: %w", err)
			}
			if each != nil {
				if err := each(&m); err != nil {
					return err
				}
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return err
		}
	}
	return expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("unexpected %v, want %v", tok, want)
	}
	return nil
}

func objectKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("unexpected %v, want an object key", tok)
	}
	return key, nil
}

func skipValue(dec *json.Decoder) error {
	var skip json.RawMessage
	return dec.Decode(&skip)
}
