package whatsapptest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Message is the body of POST /{phone-number-id}/messages, decoded strictly:
// a field the Cloud API does not know is refused, as Meta refuses it.
type Message struct {
	MessagingProduct      string          `json:"messaging_product"`
	RecipientType         string          `json:"recipient_type,omitempty"`
	To                    string          `json:"to"`
	Type                  string          `json:"type"`
	Context               *MessageContext `json:"context,omitempty"`
	BizOpaqueCallbackData string          `json:"biz_opaque_callback_data,omitempty"`
	Text                  *Text           `json:"text,omitempty"`
	Image                 *Media          `json:"image,omitempty"`
	Video                 *Media          `json:"video,omitempty"`
	Audio                 *Media          `json:"audio,omitempty"`
	Document              *Media          `json:"document,omitempty"`
	Sticker               *Media          `json:"sticker,omitempty"`
	Template              *Template       `json:"template,omitempty"`
	// Kinds package whatsapp does not send, kept raw.
	Interactive json.RawMessage `json:"interactive,omitempty"`
	Location    json.RawMessage `json:"location,omitempty"`
	Contacts    json.RawMessage `json:"contacts,omitempty"`
	Reaction    json.RawMessage `json:"reaction,omitempty"`
}

// MessageContext makes a message a reply to an earlier one.
type MessageContext struct {
	MessageID string `json:"message_id"`
}

// Text is a text message's content.
type Text struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

// Media is an image, video, audio, document or sticker, by uploaded id or
// by link.
type Media struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// Template is a template message: an approved template by name and
// language, with its components' parameters.
type Template struct {
	Name     string `json:"name"`
	Language struct {
		Code   string `json:"code"`
		Policy string `json:"policy,omitempty"`
	} `json:"language"`
	Components json.RawMessage `json:"components,omitempty"`
}

// media is the attachment named by m.Type.
func (m *Message) media() *Media {
	switch m.Type {
	case "image":
		return m.Image
	case "video":
		return m.Video
	case "audio":
		return m.Audio
	case "document":
		return m.Document
	case "sticker":
		return m.Sticker
	}
	return nil
}

var versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

// serve records the request, checks the token and routes it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	req := Request{At: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) > 0 && versionRE.MatchString(parts[0]) {
		req.Version, parts = parts[0], parts[1:]
	}
	isSend := r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "messages"
	if isSend {
		var m Message
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&m) == nil {
			req.Message = &m
		}
	}
	i := s.record(req)
	status, wamid := s.route(w, r, req, parts, isSend)
	s.settle(i, status, wamid)
}

// route answers req and returns the status and the message id given.
func (s *Server) route(w http.ResponseWriter, r *http.Request, req Request, parts []string, isSend bool) (int, string) {
	switch tok := req.Auth(); {
	case tok == "":
		graphError(w, http.StatusBadRequest, "OAuthException", 104, 0, "An access token is required to request this resource.")
		return http.StatusBadRequest, ""
	case tok != s.AccessToken:
		graphError(w, http.StatusUnauthorized, "OAuthException", 190, 0, "Invalid OAuth access token - Cannot parse access token")
		return http.StatusUnauthorized, ""
	}
	if len(parts) == 0 || parts[0] != s.PhoneNumberID || len(parts) > 2 || (len(parts) == 2 && !isSend) {
		verb := "get"
		if r.Method == http.MethodPost {
			verb = "post"
		}
		id := ""
		if len(parts) > 0 {
			id = parts[0]
		}
		graphError(w, http.StatusBadRequest, "GraphMethodException", 100, 33, "Unsupported "+verb+" request. Object with ID '"+id+
			"' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api")
		return http.StatusBadRequest, ""
	}
	if isSend {
		return s.send(w, r, req)
	}
	if r.Method != http.MethodGet {
		graphError(w, http.StatusBadRequest, "GraphMethodException", 100, 0, "Unsupported "+strings.ToLower(r.Method)+" request.")
		return http.StatusBadRequest, ""
	}
	s.phoneNumber(w, req.Query)
	return http.StatusOK, ""
}

// phoneNumber answers GET /{phone-number-id} with the fields asked for.
func (s *Server) phoneNumber(w http.ResponseWriter, q url.Values) {
	all := map[string]string{"verified_name": s.VerifiedName, "display_phone_number": s.DisplayPhoneNumber,
		"quality_rating": "GREEN", "code_verification_status": "VERIFIED", "platform_type": "CLOUD_API", "throughput": "STANDARD"}
	out := map[string]any{"id": s.PhoneNumberID}
	fields := q.Get("fields")
	if fields == "" {
		fields = "verified_name,display_phone_number,quality_rating,code_verification_status"
	}
	for _, f := range strings.Split(fields, ",") {
		if v, ok := all[strings.TrimSpace(f)]; ok {
			out[strings.TrimSpace(f)] = v
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// send answers POST /{phone-number-id}/messages: a scripted failure, a
// refusal of a malformed message or of free-form text outside the customer
// service window, or acceptance with a fresh wamid.
func (s *Server) send(w http.ResponseWriter, r *http.Request, req Request) (int, string) {
	f, failing := s.nextFailure()
	if failing && f.Hang > 0 {
		select {
		case <-time.After(f.Hang):
		case <-r.Context().Done():
		case <-s.closing:
		}
		failing = f.Status != 0
	}
	if !failing {
		f, failing = s.check(r, req)
	}
	if failing {
		f.write(w)
		return f.Status, ""
	}
	m := req.Message
	wamid := newWAMID()
	msg := map[string]string{"id": wamid}
	if m.Type == "template" {
		msg["message_status"] = "accepted"
	}
	writeJSON(w, http.StatusOK, map[string]any{"messaging_product": "whatsapp",
		"contacts": []map[string]string{{"input": m.To, "wa_id": waID(m.To)}}, "messages": []map[string]string{msg}})
	return http.StatusOK, wamid
}

// check refuses what the Cloud API refuses: a body that is not a message,
// missing or invalid fields, and free-form messages outside the window.
func (s *Server) check(r *http.Request, req Request) (Failure, bool) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return invalidParameter(100, "the body must be JSON (Content-Type application/json)"), true
	}
	m := req.Message
	if m == nil {
		var probe map[string]json.RawMessage
		if json.Unmarshal(req.Body, &probe) != nil {
			return invalidParameter(100, "the body is not a JSON object"), true
		}
		return invalidParameter(100, "the body has a field the messages API does not take"), true
	}
	bad := func(code int, details string) (Failure, bool) { return invalidParameter(code, details), true }
	switch {
	case m.MessagingProduct != "whatsapp":
		return bad(100, "The parameter messaging_product is required and must be whatsapp.")
	case m.RecipientType != "" && m.RecipientType != "individual":
		return bad(131009, "recipient_type must be individual")
	case m.To == "" || waID(m.To) == "":
		return bad(131008, "The parameter to is required.")
	case m.Type == "":
		return bad(131008, "The parameter type is required.")
	}
	kinds := 0
	for _, set := range []bool{m.Text != nil, m.Image != nil, m.Video != nil, m.Audio != nil, m.Document != nil, m.Sticker != nil,
		m.Template != nil, m.Interactive != nil, m.Location != nil, m.Contacts != nil, m.Reaction != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return bad(100, "exactly one message object, the one named by type, must be given")
	}
	switch m.Type {
	case "text":
		if m.Text == nil || strings.TrimSpace(m.Text.Body) == "" {
			return bad(131008, "The parameter text['body'] is required.")
		}
		if len([]rune(m.Text.Body)) > 4096 {
			return bad(100, "text['body'] is longer than 4096 characters")
		}
	case "image", "video", "audio", "document", "sticker":
		md := m.media()
		if md == nil {
			return bad(131008, "The parameter "+m.Type+" is required.")
		}
		if (md.ID == "") == (md.Link == "") {
			return bad(131009, m.Type+" needs exactly one of id and link")
		}
		if u, err := url.Parse(md.Link); md.Link != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
			return bad(131009, m.Type+"['link'] is not a valid URL")
		}
		if md.Caption != "" && (m.Type == "audio" || m.Type == "sticker") {
			return bad(100, m.Type+" takes no caption")
		}
		if md.Filename != "" && m.Type != "document" {
			return bad(100, "only a document takes a filename")
		}
	case "template":
		if m.Template == nil || m.Template.Name == "" {
			return bad(131008, "The parameter template['name'] is required.")
		}
		if m.Template.Language.Code == "" {
			return bad(131008, "The parameter template['language']['code'] is required.")
		}
	case "interactive", "location", "contacts", "reaction":
		if m.Interactive == nil && m.Location == nil && m.Contacts == nil && m.Reaction == nil {
			return bad(131008, "The parameter "+m.Type+" is required.")
		}
	default:
		return bad(131009, "type "+m.Type+" is not a message type")
	}
	if s.EnforceWindow && m.Type != "template" && !s.inWindow(waID(m.To)) {
		return ReEngagement(), true
	}
	return Failure{}, false
}
