package backend

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The servers (and the templates of webhook plugins) write the same field
// as a number one time and a string the next. These types read either;
// the clients and their webhook and socket parsers share them.

// FlexInt is an integer sent as a number, a float (cut to an integer) or
// a numeric string; null and "" read as 0.
type FlexInt int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *FlexInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	s = strings.TrimSpace(s)
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = FlexInt(i)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > math.MaxInt64/2 {
		return fmt.Errorf("not a number: %.30q", s)
	}
	*n = FlexInt(f)
	return nil
}

// FlexString is an id sent as a string or a number; null reads as "".
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *FlexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = FlexString(v)
		return nil
	}
	v := string(b)
	if v == "null" {
		*s = ""
		return nil
	}
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return fmt.Errorf("not a string or number: %.30q", v)
	}
	*s = FlexString(v)
	return nil
}

// FlexBool is a boolean sent as true/false, "true"/"True"/"false", 0/1 or
// yes/no (a Handlebars template may write any of them); null and "" are
// false.
type FlexBool bool

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		*f = true
	case "false", "0", "no", "", "null":
		*f = false
	default:
		return fmt.Errorf("want a boolean, got %.20s", b)
	}
	return nil
}
