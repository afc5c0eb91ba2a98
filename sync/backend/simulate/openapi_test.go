package simulate_test

// A small OpenAPI 3.0/3.1 and JSON-Schema subset validator, just enough to
// check the simulated servers' answers against the servers' own specs
// (spec_test.go). It lives in a test file on purpose: nothing outside the
// tests needs it, and it must not become a dependency of the simulators.
//
// Supported: $ref (JSON pointers into the same document, also to
// components/responses and requestBodies), type (a string, or a 3.1 type
// array, "null" included), nullable (3.0), properties, required,
// additionalProperties (false, true, {} or a schema), items, allOf, anyOf
// and oneOf (a value fits when any branch fits; oneOf is not checked for
// exclusivity), enum, and the formats date-time (RFC 3339), uuid (32 hex
// digits, dashed or not, as .NET writes Guids) and int32. Everything else
// (minimum, pattern, discriminator, ...) is ignored.

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// oaSpec is one parsed OpenAPI document.
type oaSpec struct {
	name string
	doc  map[string]any
}

func oaLoad(path string) (*oaSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return oaParse(path, data)
}

func oaParse(name string, data []byte) (*oaSpec, error) {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		return nil, fmt.Errorf("%s: not an OpenAPI 3 document (openapi %q)", name, v)
	}
	if _, ok := doc["paths"].(map[string]any); !ok {
		return nil, fmt.Errorf("%s: no paths", name)
	}
	return &oaSpec{name: name, doc: doc}, nil
}

// pointer resolves a local JSON reference ("#/components/schemas/X").
func (s *oaSpec) pointer(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("$ref %q: only references into the same document are supported", ref)
	}
	var cur any = s.doc
	for tok := range strings.SplitSeq(strings.TrimPrefix(rest, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
		}
	}
	return cur, nil
}

// deref follows $ref until it reaches an object without one (for response
// and request-body objects, whose siblings of $ref do not matter).
func (s *oaSpec) deref(v any) (map[string]any, error) {
	for range 32 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("not an object: %T", v)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var err error
		if v, err = s.pointer(ref); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("$ref chain too long")
}

func (s *oaSpec) paths() map[string]any { return s.doc["paths"].(map[string]any) }

// template returns the path template that matches reqPath (no query),
// comparing literal segments case-insensitively (the Jellyfin and Emby
// servers route that way, and the specs spell some segments differently
// from the clients) and letting {param} match any non-empty segment. When
// several match, the one with the most literal segments wins, so that
// /Users/Query is not taken for /Users/{Id}.
func (s *oaSpec) template(reqPath string) (string, bool) {
	segs := strings.Split(strings.Trim(reqPath, "/"), "/")
	best, bestLit := "", -1
	for _, tmpl := range slices.Sorted(maps.Keys(s.paths())) {
		tsegs := strings.Split(strings.Trim(tmpl, "/"), "/")
		if len(tsegs) != len(segs) {
			continue
		}
		lit, ok := 0, true
		for i, ts := range tsegs {
			if !strings.Contains(ts, "{") {
				if !strings.EqualFold(ts, segs[i]) {
					ok = false
					break
				}
				lit++
				continue
			}
			if segs[i] == "" || !oaSegmentPattern(ts).MatchString(segs[i]) {
				ok = false
				break
			}
		}
		if ok && lit > bestLit {
			best, bestLit = tmpl, lit
		}
	}
	return best, bestLit >= 0
}

// oaSegmentPattern turns a template segment ("{id}", "Stream.{Format}")
// into a case-insensitive regexp.
func oaSegmentPattern(seg string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?i)^")
	for seg != "" {
		i := strings.IndexByte(seg, '{')
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(seg))
			break
		}
		b.WriteString(regexp.QuoteMeta(seg[:i]))
		j := strings.IndexByte(seg[i:], '}')
		if j < 0 {
			b.WriteString(regexp.QuoteMeta(seg[i:]))
			break
		}
		b.WriteString(".+")
		seg = seg[i+j+1:]
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// operation is the operation object of method on the template tmpl, which
// is looked up case-insensitively.
func (s *oaSpec) operation(method, tmpl string) (map[string]any, error) {
	for k, v := range s.paths() {
		if !strings.EqualFold(k, tmpl) {
			continue
		}
		item, err := s.deref(v)
		if err != nil {
			return nil, fmt.Errorf("%s: path %s: %w", s.name, k, err)
		}
		op, ok := item[strings.ToLower(method)].(map[string]any)
		if !ok {
			var have []string
			for _, m := range []string{"get", "put", "post", "delete", "head", "patch", "options"} {
				if _, ok := item[m]; ok {
					have = append(have, strings.ToUpper(m))
				}
			}
			return nil, fmt.Errorf("%s documents no %s %s (only %v)", s.name, method, k, have)
		}
		return op, nil
	}
	return nil, fmt.Errorf("%s has no path %s", s.name, tmpl)
}

// oaResponse is what an operation documents for one status.
type oaResponse struct {
	key     string         // "200", "2XX" or "default"
	content map[string]any // media type -> media object; nil when none is documented
	headers map[string]any
}

// response is the documented response of op for status, if any.
func (s *oaSpec) response(op map[string]any, status int) (oaResponse, bool, error) {
	rs, _ := op["responses"].(map[string]any)
	code := strconv.Itoa(status)
	for _, key := range []string{code, code[:1] + "XX", code[:1] + "xx", "default"} {
		raw, ok := rs[key]
		if !ok {
			continue
		}
		r, err := s.deref(raw)
		if err != nil {
			return oaResponse{}, false, fmt.Errorf("response %s: %w", key, err)
		}
		out := oaResponse{key: key}
		out.content, _ = r["content"].(map[string]any)
		out.headers, _ = r["headers"].(map[string]any)
		return out, true, nil
	}
	return oaResponse{}, false, nil
}

// documentedStatuses lists the statuses op documents, for messages.
func documentedStatuses(op map[string]any) []string {
	rs, _ := op["responses"].(map[string]any)
	return slices.Sorted(maps.Keys(rs))
}

// jsonSchema is the schema of the JSON media type of content:
// application/json first, else any other JSON type. ok is false when no
// JSON type is documented or it has no schema.
func oaJSONSchema(content map[string]any) (schema any, mediaType string, ok bool) {
	pick := func(mt string) (any, bool) {
		m, _ := content[mt].(map[string]any)
		sch, ok := m["schema"]
		return sch, ok
	}
	if sch, ok := pick("application/json"); ok {
		return sch, "application/json", true
	}
	for _, mt := range slices.Sorted(maps.Keys(content)) {
		if strings.Contains(mt, "json") {
			if sch, ok := pick(mt); ok {
				return sch, mt, true
			}
		}
	}
	return nil, "", false
}

// requestSchema is the JSON schema of op's request body, if documented.
func (s *oaSpec) requestSchema(op map[string]any) (any, bool, error) {
	raw, ok := op["requestBody"]
	if !ok {
		return nil, false, nil
	}
	rb, err := s.deref(raw)
	if err != nil {
		return nil, false, err
	}
	content, _ := rb["content"].(map[string]any)
	sch, _, ok := oaJSONSchema(content)
	return sch, ok, nil
}

// --- Validation ------------------------------------------------------------

// oaIssueKind sorts what the validator found.
type oaIssueKind int

const (
	// oaMismatch: the value breaks the schema (type, format, enum,
	// required, no fitting oneOf/anyOf branch, a bad $ref).
	oaMismatch oaIssueKind = iota
	// oaForbidden: a property the schema does not declare, where the
	// schema says additionalProperties: false.
	oaForbidden
	// oaUndeclared: a property the schema does not declare, where the
	// schema says nothing about additional properties (JSON Schema allows
	// them then; the caller decides whether that matters).
	oaUndeclared
)

// oaIssue is one finding, at a JSON path such as Items[3].UserData.Played
// ("" is the whole body).
type oaIssue struct {
	Path string
	Kind oaIssueKind
	Msg  string
}

func (i oaIssue) String() string {
	p := i.Path
	if p == "" {
		p = "(body)"
	}
	return p + ": " + i.Msg
}

// Validate checks v (decoded with json.Decoder.UseNumber, so that integers
// can be told from other numbers) against schema, which belongs to s.
func (s *oaSpec) Validate(schema, v any) []oaIssue {
	out := s.validate(schema, v, "")
	// allOf branches and sibling keywords can find the same thing twice.
	seen := map[string]bool{}
	dedup := out[:0]
	for _, i := range out {
		k := fmt.Sprint(i.Kind, i.Path, i.Msg)
		if !seen[k] {
			seen[k] = true
			dedup = append(dedup, i)
		}
	}
	sort.SliceStable(dedup, func(a, b int) bool { return dedup[a].Path < dedup[b].Path })
	return dedup
}

// validate is check plus the undeclared-property check of this object
// level, which has to see every allOf branch (and the fitting anyOf/oneOf
// branch) at once: a property declared by one branch is not extra in
// another.
func (s *oaSpec) validate(schema, v any, path string) []oaIssue {
	out := s.check(schema, v, path)
	if obj, ok := v.(map[string]any); ok {
		out = append(out, s.extras(schema, obj, path)...)
	}
	return out
}

func child(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// hard counts the findings that make a value invalid by JSON Schema's own
// rules (undeclared properties do not).
func hard(is []oaIssue) int {
	n := 0
	for _, i := range is {
		if i.Kind != oaUndeclared {
			n++
		}
	}
	return n
}

// check validates v against one schema, without the extra-property check
// of v's own level (see validate); nested values are fully validated.
func (s *oaSpec) check(schema, v any, path string) []oaIssue {
	switch sch := schema.(type) {
	case nil:
		return nil
	case bool: // 3.1 boolean schemas
		if !sch {
			return []oaIssue{{path, oaMismatch, "schema false allows no value"}}
		}
		return nil
	case map[string]any:
		return s.checkObject(sch, v, path)
	}
	return []oaIssue{{path, oaMismatch, fmt.Sprintf("unusable schema of type %T", schema)}}
}

func (s *oaSpec) checkObject(sch map[string]any, v any, path string) []oaIssue {
	var out []oaIssue
	if v == nil && oaAllowsNull(sch) {
		return nil
	}
	if ref, ok := sch["$ref"].(string); ok {
		target, err := s.pointer(ref)
		if err != nil {
			return []oaIssue{{path, oaMismatch, err.Error()}}
		}
		out = append(out, s.check(target, v, path)...)
	}
	if t, ok := sch["type"]; ok {
		types := oaTypes(t)
		if !slices.ContainsFunc(types, func(t string) bool { return oaIsType(t, v) }) {
			want := strings.Join(types, " or ")
			if f, ok := sch["format"].(string); ok {
				want += " (" + f + ")"
			}
			// A value of the wrong type makes every further check noise.
			return append(out, oaIssue{path, oaMismatch, fmt.Sprintf("want %s, got %s", want, oaDescribe(v))})
		}
	}
	if e, ok := sch["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return oaEqual(x, v) }) {
		out = append(out, oaIssue{path, oaMismatch, fmt.Sprintf("%s is not one of the enum values %s", oaDescribe(v), oaEnumList(e))})
	}
	if f, ok := sch["format"].(string); ok {
		if msg := oaCheckFormat(f, v); msg != "" {
			out = append(out, oaIssue{path, oaMismatch, msg})
		}
	}
	switch val := v.(type) {
	case map[string]any:
		props, _ := sch["properties"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(props)) {
			if pv, ok := val[k]; ok {
				out = append(out, s.validate(props[k], pv, child(path, k))...)
			}
		}
		if req, ok := sch["required"].([]any); ok {
			for _, r := range req {
				if name, _ := r.(string); name != "" {
					if _, ok := val[name]; !ok {
						out = append(out, oaIssue{child(path, name), oaMismatch, "required property is missing"})
					}
				}
			}
		}
	case []any:
		if items, ok := sch["items"]; ok {
			for i, e := range val {
				out = append(out, s.validate(items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	if all, ok := sch["allOf"].([]any); ok {
		for _, b := range all {
			out = append(out, s.check(b, v, path)...)
		}
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		branches, ok := sch[kw].([]any)
		if !ok || len(branches) == 0 {
			continue
		}
		if i, got := s.fit(branches, v, path); i < 0 {
			out = append(out, oaIssue{path, oaMismatch, fmt.Sprintf("fits no branch of %s; the closest one says:", kw)})
			out = append(out, got...)
		} else {
			out = append(out, got...)
		}
	}
	return out
}

// fit returns the first branch v fits (nothing hard found) and that branch's
// other findings, or -1 and the findings of the closest branch.
func (s *oaSpec) fit(branches []any, v any, path string) (int, []oaIssue) {
	var best []oaIssue
	bestN := -1
	for i, b := range branches {
		got := s.check(b, v, path)
		n := hard(got)
		if obj, ok := v.(map[string]any); ok {
			// A branch's own additionalProperties: false counts when
			// telling branches apart.
			n += hard(s.extras(b, obj, path))
		}
		if n == 0 {
			return i, got
		}
		if bestN < 0 || n < bestN {
			best, bestN = got, n
		}
	}
	return -1, best
}

// oaShape is what a schema says about an object's properties, all allOf
// branches, $ref targets and fitting anyOf/oneOf branches merged.
type oaShape struct {
	props      map[string]bool
	closed     bool  // some part says additionalProperties: false
	open       bool  // some part allows any additional property
	extraTypes []any // additionalProperties schemas extra properties must fit
}

func (s *oaSpec) shape(schema any, v any, sh *oaShape, depth int) {
	sch, ok := schema.(map[string]any)
	if !ok || depth > 32 {
		if b, ok := schema.(bool); ok && b {
			sh.open = true
		}
		return
	}
	if ref, ok := sch["$ref"].(string); ok {
		if target, err := s.pointer(ref); err == nil {
			s.shape(target, v, sh, depth+1)
		}
	}
	if props, ok := sch["properties"].(map[string]any); ok {
		for k := range props {
			sh.props[k] = true
		}
	}
	if ap, ok := sch["additionalProperties"]; ok {
		switch a := ap.(type) {
		case bool:
			if a {
				sh.open = true
			} else {
				sh.closed = true
			}
		case map[string]any:
			if len(a) == 0 {
				sh.open = true
			} else {
				sh.extraTypes = append(sh.extraTypes, a)
			}
		}
	}
	if all, ok := sch["allOf"].([]any); ok {
		for _, b := range all {
			s.shape(b, v, sh, depth+1)
		}
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		if branches, ok := sch[kw].([]any); ok {
			if i, _ := s.fit(branches, v, ""); i >= 0 {
				s.shape(branches[i], v, sh, depth+1)
			}
		}
	}
}

// extras checks the properties of obj that schema does not declare.
// Without additionalProperties a schema that declares properties gets
// oaUndeclared findings (JSON Schema would allow them; the specs here are
// generated from the servers' DTO classes, so an undeclared property is a
// property the real server never sends). A schema that declares no
// properties at all is a free-form object and is left alone.
func (s *oaSpec) extras(schema any, obj map[string]any, path string) []oaIssue {
	sh := oaShape{props: map[string]bool{}}
	s.shape(schema, obj, &sh, 0)
	var out []oaIssue
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if sh.props[k] {
			continue
		}
		switch {
		case len(sh.extraTypes) > 0:
			for _, t := range sh.extraTypes {
				out = append(out, s.validate(t, obj[k], child(path, k))...)
			}
		case sh.open:
		case sh.closed:
			out = append(out, oaIssue{child(path, k), oaForbidden, "property not declared by the schema (additionalProperties: false)"})
		case len(sh.props) > 0:
			out = append(out, oaIssue{child(path, k), oaUndeclared, "property not declared by the schema"})
		}
	}
	return out
}

func oaAllowsNull(sch map[string]any) bool {
	if b, _ := sch["nullable"].(bool); b {
		return true
	}
	if t, ok := sch["type"]; ok && slices.Contains(oaTypes(t), "null") {
		return true
	}
	if e, ok := sch["enum"].([]any); ok && slices.Contains(e, nil) {
		return true
	}
	return false
}

func oaTypes(t any) []string {
	switch t := t.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func oaIsType(t string, v any) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "number":
		_, ok := oaNumber(v)
		return ok
	case "integer":
		f, ok := oaNumber(v)
		return ok && f == math.Trunc(f) && !math.IsInf(f, 0)
	}
	return false
}

// oaNumber reads a JSON number (json.Number from the bodies, float64 from
// the specs).
func oaNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return float64(i), true
		}
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	}
	return 0, false
}

// oaDescribe names a value's JSON type for messages, with short strings
// and numbers shown.
func oaDescribe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return fmt.Sprintf("string %q", x)
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case json.Number, float64:
		return fmt.Sprintf("number %v", x)
	}
	return fmt.Sprintf("%T", v)
}

func oaEqual(a, b any) bool {
	if fa, ok := oaNumber(a); ok {
		fb, ok := oaNumber(b)
		return ok && fa == fb
	}
	switch a.(type) {
	case string, bool, nil:
		return a == b
	}
	return false
}

func oaEnumList(e []any) string {
	var parts []string
	for i, x := range e {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("… (%d in all)", len(e)))
			break
		}
		parts = append(parts, fmt.Sprintf("%v", x))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

var oaUUID = regexp.MustCompile(`^(?i:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)

// oaCheckFormat checks the formats the validator knows; "" means fine.
func oaCheckFormat(format string, v any) string {
	switch format {
	case "date-time":
		s, ok := v.(string)
		if !ok {
			return ""
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Sprintf("string %q is not an RFC 3339 date-time", s)
		}
	case "uuid":
		// .NET writes Guids as 32 hex digits (Jellyfin's "N" format) or
		// dashed; both are accepted as input by the servers.
		if s, ok := v.(string); ok && !oaUUID.MatchString(s) {
			return fmt.Sprintf("string %q is not a uuid", s)
		}
	case "int32":
		if f, ok := oaNumber(v); ok && (f < math.MinInt32 || f > math.MaxInt32) {
			return fmt.Sprintf("%v does not fit int32", v)
		}
	}
	return ""
}

// --- The validator's own tests ------------------------------------------------
//
// They use a small inline spec, so they run with or without the real specs,
// and show that the validator fails on what it should fail on.

const oaTestSpec = `{
  "openapi": "3.0.1",
  "paths": {
    "/Items": {"get": {"responses": {
      "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}}},
      "404": {"$ref": "#/components/responses/NotFound"}}}},
    "/Items/{itemId}": {"get": {"responses": {"200": {"description": "ok"}}}},
    "/Items/Latest": {"get": {"responses": {"200": {"description": "ok"}}}},
    "/Videos/{id}/stream.{container}": {"get": {"responses": {"200": {"description": "ok"}}}},
    "/:/scrobble": {"put": {"responses": {"200": {"description": "ok"}}}}
  },
  "components": {
    "responses": {"NotFound": {"description": "nf", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
    "schemas": {
      "Result": {"type": "object", "additionalProperties": false, "properties": {
        "Items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
        "TotalRecordCount": {"type": "integer", "format": "int32"}}},
      "Item": {"type": "object", "additionalProperties": false, "required": ["Id"], "properties": {
        "Id": {"type": "string", "format": "uuid"},
        "Name": {"type": "string", "nullable": true},
        "Type": {"enum": ["Movie", "Episode"], "allOf": [{"$ref": "#/components/schemas/Kind"}]},
        "RunTimeTicks": {"type": "integer", "format": "int64", "nullable": true},
        "Rating": {"type": "number"},
        "IsFolder": {"type": "boolean"},
        "ProviderIds": {"type": "object", "additionalProperties": {"type": "string", "nullable": true}, "nullable": true},
        "UserData": {"allOf": [{"$ref": "#/components/schemas/UserData"}], "nullable": true},
        "Tags": {"type": "array", "items": {"type": "string"}}}},
      "Kind": {"enum": ["Movie", "Episode", "Series"], "type": "string"},
      "UserData": {"type": "object", "additionalProperties": false, "properties": {
        "LastPlayedDate": {"type": "string", "format": "date-time", "nullable": true},
        "Played": {"type": "boolean"},
        "PlayCount": {"type": "integer", "format": "int32"}}},
      "Problem": {"type": "object", "additionalProperties": {}, "properties": {"status": {"type": "integer"}}},
      "Loose": {"type": "object", "properties": {"a": {"type": "string"}}},
      "Free": {"type": "object"},
      "Typed": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}},
      "Open": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": true},
      "Split": {"allOf": [
        {"type": "object", "properties": {"a": {"type": "string"}}},
        {"type": "object", "properties": {"b": {"type": "integer"}}}]},
      "Either": {"oneOf": [
        {"type": "object", "required": ["kind", "n"], "properties": {"kind": {"enum": ["num"]}, "n": {"type": "integer"}}},
        {"type": "object", "required": ["kind", "s"], "properties": {"kind": {"enum": ["str"]}, "s": {"type": "string"}}}]},
      "AnyTime": {"anyOf": [{"type": "integer"}, {"type": "string", "format": "date-time"}]},
      "Maybe31": {"type": ["string", "null"]},
      "Never": false
    }
  }
}`

func oaTestLoad(t *testing.T) *oaSpec {
	t.Helper()
	s, err := oaParse("inline", []byte(oaTestSpec))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func oaRef(name string) any { return map[string]any{"$ref": "#/components/schemas/" + name} }

// oaFindings validates body (JSON text) against the named schema and
// returns the findings as strings, undeclared ones marked.
func oaFindings(t *testing.T, s *oaSpec, schema any, body string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("bad test body %s: %v", body, err)
	}
	var out []string
	for _, is := range s.Validate(schema, v) {
		str := is.String()
		if is.Kind == oaUndeclared {
			str = "undeclared " + str
		}
		out = append(out, str)
	}
	return out
}

func oaExpect(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func TestValidatorAcceptsAValidBody(t *testing.T) {
	s := oaTestLoad(t)
	body := `{"Items": [
	  {"Id": "2738871dd7a147758c789d4755f965b6", "Name": null, "Type": "Movie", "RunTimeTicks": 72000000000, "Rating": 7.5,
	   "IsFolder": false, "ProviderIds": {"Imdb": "tt0096895", "Tvdb": null}, "Tags": ["a", "b"],
	   "UserData": {"LastPlayedDate": "2021-04-23T10:03:17.0000000Z", "Played": true, "PlayCount": 2}},
	  {"Id": "2738871d-d7a1-4775-8c78-9d4755f965b6", "Type": "Episode", "RunTimeTicks": null, "UserData": null, "ProviderIds": {}},
	  {"Id": "00000000000000000000000000000000", "UserData": {"LastPlayedDate": "2024-11-21T21:04:49.571+01:00", "Played": false}, "Rating": 7}
	], "TotalRecordCount": 3}`
	oaExpect(t, "valid body", oaFindings(t, s, oaRef("Result"), body), nil)
}

func TestValidatorCatchesWrongTypes(t *testing.T) {
	s := oaTestLoad(t)
	body := `{"Items": [
	  {"Id": "2738871dd7a147758c789d4755f965b6"},
	  {"Id": "2738871dd7a147758c789d4755f965b6", "Name": 5, "RunTimeTicks": 1.5, "Rating": "high", "IsFolder": "no",
	   "Tags": "a,b", "ProviderIds": {"Imdb": 7}, "UserData": {"LastPlayedDate": 1700000000, "Played": 1, "PlayCount": "3"}},
	  "not an item"
	], "TotalRecordCount": "3"}`
	oaExpect(t, "wrong types", oaFindings(t, s, oaRef("Result"), body), []string{
		`Items[1].IsFolder: want boolean, got string "no"`,
		`Items[1].Name: want string, got number 5`,
		`Items[1].ProviderIds.Imdb: want string, got number 7`,
		`Items[1].Rating: want number, got string "high"`,
		`Items[1].RunTimeTicks: want integer (int64), got number 1.5`,
		`Items[1].Tags: want array, got string "a,b"`,
		`Items[1].UserData.LastPlayedDate: want string (date-time), got number 1700000000`,
		`Items[1].UserData.PlayCount: want integer (int32), got string "3"`,
		`Items[1].UserData.Played: want boolean, got number 1`,
		`Items[2]: want object, got string "not an item"`,
		`TotalRecordCount: want integer (int32), got string "3"`,
	})
	oaExpect(t, "wrong root", oaFindings(t, s, oaRef("Result"), `[]`), []string{`(body): want object, got array`})
}

func TestValidatorNulls(t *testing.T) {
	s := oaTestLoad(t)
	oaExpect(t, "null where not nullable", oaFindings(t, s, oaRef("Item"),
		`{"Id": null, "Type": null, "IsFolder": null, "Tags": null, "ProviderIds": null, "UserData": null, "Name": null}`), []string{
		`Id: want string (uuid), got null`,
		`IsFolder: want boolean, got null`,
		`Tags: want array, got null`,
		`Type: null is not one of the enum values [Movie, Episode]`,
		`Type: want string, got null`,
	})
	oaExpect(t, "3.1 type array with null", oaFindings(t, s, oaRef("Maybe31"), `null`), nil)
	oaExpect(t, "3.1 type array, other type", oaFindings(t, s, oaRef("Maybe31"), `3`), []string{`(body): want string or null, got number 3`})
}

func TestValidatorFormatsAndEnums(t *testing.T) {
	s := oaTestLoad(t)
	oaExpect(t, "formats and enum", oaFindings(t, s, oaRef("Item"),
		`{"Id": "240270", "Type": "Series", "UserData": {"LastPlayedDate": "2024-05-01 20:00:00", "PlayCount": 3000000000}}`), []string{
		`Id: string "240270" is not a uuid`,
		`Type: string "Series" is not one of the enum values [Movie, Episode]`,
		`UserData.LastPlayedDate: string "2024-05-01 20:00:00" is not an RFC 3339 date-time`,
		`UserData.PlayCount: 3000000000 does not fit int32`,
	})
	for _, ok := range []string{`"2024-05-01T20:00:00Z"`, `"2021-04-23T10:03:17.0000000Z"`, `"2024-11-21T21:04:49.571-05:00"`} {
		oaExpect(t, "date-time "+ok, oaFindings(t, s, map[string]any{"type": "string", "format": "date-time"}, ok), nil)
	}
	for _, bad := range []string{`"2024-05-01"`, `"20240501200000"`, `"2024-05-01T20:00:00"`} {
		if got := oaFindings(t, s, map[string]any{"type": "string", "format": "date-time"}, bad); len(got) != 1 {
			t.Errorf("date-time %s: got %q, want one finding", bad, got)
		}
	}
}

func TestValidatorRequiredAndExtraProperties(t *testing.T) {
	s := oaTestLoad(t)
	oaExpect(t, "required and additionalProperties false", oaFindings(t, s, oaRef("Item"),
		`{"Name": "x", "DateLastSaved": "2024-05-01T20:00:00Z", "UserData": {"Played": true, "Bogus": 1}}`), []string{
		`DateLastSaved: property not declared by the schema (additionalProperties: false)`,
		`Id: required property is missing`,
		`UserData.Bogus: property not declared by the schema (additionalProperties: false)`,
	})
	oaExpect(t, "absent additionalProperties", oaFindings(t, s, oaRef("Loose"), `{"a": "x", "b": 1}`), []string{`undeclared b: property not declared by the schema`})
	oaExpect(t, "free-form object", oaFindings(t, s, oaRef("Free"), `{"a": 1, "b": [2]}`), nil)
	oaExpect(t, "additionalProperties {}", oaFindings(t, s, oaRef("Problem"), `{"status": 404, "traceId": "00-ab"}`), nil)
	oaExpect(t, "additionalProperties true", oaFindings(t, s, oaRef("Open"), `{"a": "x", "z": {}}`), nil)
	oaExpect(t, "additionalProperties schema", oaFindings(t, s, oaRef("Typed"), `{"a": "x", "n": 1, "m": "two"}`), []string{`m: want integer, got string "two"`})
	// A property one allOf branch declares is not extra in the other.
	oaExpect(t, "allOf merges properties", oaFindings(t, s, oaRef("Split"), `{"a": "x", "b": 2}`), nil)
	oaExpect(t, "allOf checks every branch", oaFindings(t, s, oaRef("Split"), `{"a": 1, "b": "2", "c": true}`), []string{
		`a: want string, got number 1`,
		`b: want integer, got string "2"`,
		`undeclared c: property not declared by the schema`,
	})
}

func TestValidatorComposition(t *testing.T) {
	s := oaTestLoad(t)
	oaExpect(t, "oneOf first", oaFindings(t, s, oaRef("Either"), `{"kind": "num", "n": 3}`), nil)
	oaExpect(t, "oneOf second", oaFindings(t, s, oaRef("Either"), `{"kind": "str", "s": "x"}`), nil)
	oaExpect(t, "oneOf none", oaFindings(t, s, oaRef("Either"), `{"kind": "str", "s": 3}`), []string{
		`(body): fits no branch of oneOf; the closest one says:`,
		`s: want string, got number 3`,
	})
	oaExpect(t, "anyOf int", oaFindings(t, s, oaRef("AnyTime"), `1700000000`), nil)
	oaExpect(t, "anyOf date", oaFindings(t, s, oaRef("AnyTime"), `"2024-05-01T20:00:00Z"`), nil)
	if got := oaFindings(t, s, oaRef("AnyTime"), `"yesterday"`); len(got) == 0 || !strings.Contains(got[0], "fits no branch of anyOf") {
		t.Errorf("anyOf with no fitting branch: got %q", got)
	}
	oaExpect(t, "false schema", oaFindings(t, s, oaRef("Never"), `1`), []string{`(body): schema false allows no value`})
	oaExpect(t, "bad $ref", oaFindings(t, s, oaRef("Nope"), `1`), []string{`(body): $ref "#/components/schemas/Nope": no "Nope"`})
}

func TestSpecOperationLookup(t *testing.T) {
	s := oaTestLoad(t)
	for req, want := range map[string]string{
		"/items":                   "/Items",
		"/Items/Latest":            "/Items/Latest", // the literal beats /Items/{itemId}
		"/ITEMS/abc":               "/Items/{itemId}",
		"/Videos/42/stream.mkv":    "/Videos/{id}/stream.{container}",
		"/:/scrobble":              "/:/scrobble",
		"/Items/abc/Nope":          "",
		"/Videos/42/download.mkv":  "",
		"/library/sections/1/all/": "",
	} {
		got, ok := s.template(req)
		if got != want || ok != (want != "") {
			t.Errorf("template(%q) = %q, %v; want %q", req, got, ok, want)
		}
	}
	op, err := s.operation("GET", "/items")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.operation("POST", "/Items"); err == nil || !strings.Contains(err.Error(), "no POST /Items") {
		t.Errorf("POST /Items: err %v, want a missing-method error", err)
	}
	if _, err := s.operation("PUT", "/nowhere"); err == nil {
		t.Error("an unknown path must be an error")
	}
	// Responses: by status, through a $ref to components/responses.
	r, ok, err := s.response(op, 404)
	if err != nil || !ok {
		t.Fatalf("404: %v %v", ok, err)
	}
	if sch, _, ok := oaJSONSchema(r.content); !ok || fmt.Sprint(sch) != "map[$ref:#/components/schemas/Problem]" {
		t.Errorf("404 schema = %v, %v", sch, ok)
	}
	if _, ok, _ := s.response(op, 500); ok {
		t.Error("500 is not documented")
	}
}
