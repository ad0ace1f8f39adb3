package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	sb "github.com/switchboardhq/switchboard"
)

// SignatureHeader carries Meta's signature of a webhook body.
const SignatureHeader = "X-Hub-Signature-256"

// Sign returns the SignatureHeader value Meta sends for body: "sha256=" and
// the hex HMAC-SHA256 of the raw body keyed with the app secret. Tests (and
// integrators' tests) use it to post webhooks that verify.
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyChallenge answers Meta's GET subscription handshake
// (?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…): ok when the
// mode is subscribe and the token matches verifyToken, and then challenge
// is what to answer with, as the whole text/plain body of a 200. Anything
// else is answered 403. An empty verifyToken never matches.
func VerifyChallenge(q url.Values, verifyToken string) (challenge string, ok bool) {
	if verifyToken == "" || q.Get("hub.mode") != "subscribe" {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(verifyToken)) != 1 {
		return "", false
	}
	challenge = q.Get("hub.challenge")
	return challenge, challenge != ""
}

// verifySignature checks header against body in constant time.
func (c *Client) verifySignature(header string, body []byte) bool {
	if c.creds.AppSecret == "" {
		return false
	}
	hexSig, found := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !found {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(c.creds.AppSecret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// The webhook payload: {object, entry: [{id, changes: [{field, value}]}]}.
type webhookPayload struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string      `json:"field"`
			Value changeValue `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type changeValue struct {
	Metadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID string `json:"wa_id"`
	} `json:"contacts"`
	Messages        []inbound        `json:"messages"`
	Statuses        []statusUpdate   `json:"statuses"`
	UserPreferences []userPreference `json:"user_preferences"`
}

type inbound struct {
	From    string `json:"from"`
	ID      string `json:"id"`
	Type    string `json:"type"`
	Context *struct {
		ID string `json:"id"`
	} `json:"context"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *media `json:"image"`
	Video    *media `json:"video"`
	Audio    *media `json:"audio"`
	Document *media `json:"document"`
	Sticker  *media `json:"sticker"`
	Button   *struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *reply `json:"button_reply"`
		ListReply   *reply `json:"list_reply"`
	} `json:"interactive"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
		URL       string  `json:"url"`
	} `json:"location"`
	Reaction *struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction"`
}

type media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

type reply struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

type statusUpdate struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	RecipientID string `json:"recipient_id"`
	Errors      []struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"errors"`
}

type userPreference struct {
	WaID     string `json:"wa_id"`
	Category string `json:"category"`
	Value    string `json:"value"`
}

// receiptStatuses maps Meta's statuses onto ours; others (played, deleted)
// are not receipts.
var receiptStatuses = map[string]sb.Status{
	"sent":      sb.StatusSent,
	"delivered": sb.StatusDelivered,
	"read":      sb.StatusRead,
	"failed":    sb.StatusFailed,
}

// ParseWebhook verifies the request's X-Hub-Signature-256 first (a request
// that does not verify is sb.ErrForged) and then reads the notification:
// customer messages, receipts for our messages (keyed by wamid), and
// opt-outs and opt-ins (a failed send with 131050, a user_preferences
// change). Meta expects an empty 200, so Response stays nil. The signature
// covers only the body, so publicURL is not needed.
func (c *Client) ParseWebhook(r *http.Request, body []byte, publicURL string) (*sb.InboundBatch, error) {
	if !c.verifySignature(r.Header.Get(SignatureHeader), body) {
		return nil, sb.ErrForged
	}
	var p webhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, sb.Errorf(sb.EINVALID, "whatsapp webhook: malformed JSON: %v", err)
	}
	batch := &sb.InboundBatch{}
	if p.Object != "whatsapp_business_account" {
		return batch, nil
	}
	for _, e := range p.Entry {
		for _, ch := range e.Changes {
			switch ch.Field {
			case "messages":
				readMessages(batch, &ch.Value)
			case "user_preferences":
				readPreferences(batch, &ch.Value)
			}
		}
	}
	return batch, nil
}

// readMessages adds a messages change's customer messages, receipts and
// opt-outs to batch.
func readMessages(batch *sb.InboundBatch, v *changeValue) {
	to := e164(v.Metadata.DisplayPhoneNumber)
	if to == "" {
		to = v.Metadata.PhoneNumberID
	}
	for i := range v.Messages {
		if m := inboundMessage(&v.Messages[i], v, to); m != nil {
			batch.Messages = append(batch.Messages, m)
		}
	}
	for _, s := range v.Statuses {
		st, ok := receiptStatuses[s.Status]
		if !ok || s.ID == "" {
			continue
		}
		rc := sb.Receipt{Provider: Name, ProviderMessageID: s.ID, Status: st}
		if st == sb.StatusFailed && len(s.Errors) > 0 {
			e := s.Errors[0]
			rc.ErrorCode = strconv.Itoa(e.Code)
			rc.ErrorMessage = firstNonEmpty(e.Title, e.Message, e.ErrorData.Details)
			if e.Code == codeMarketingOptOut && s.RecipientID != "" {
				batch.OptOuts = append(batch.OptOuts, sb.OptOut{Channel: sb.ChannelWhatsApp, Address: e164(s.RecipientID), Source: "provider"})
			}
		}
		batch.Receipts = append(batch.Receipts, rc)
	}
}

// readPreferences adds marketing stop/resume changes as opt-outs and
// opt-ins.
func readPreferences(batch *sb.InboundBatch, v *changeValue) {
	for _, up := range v.UserPreferences {
		addr := e164(up.WaID)
		if addr == "" || up.Category != "marketing_messages" {
			continue
		}
		o := sb.OptOut{Channel: sb.ChannelWhatsApp, Address: addr, Source: "provider"}
		switch up.Value {
		case "stop":
			batch.OptOuts = append(batch.OptOuts, o)
		case "resume":
			batch.OptIns = append(batch.OptIns, o)
		}
	}
}

// inboundMessage maps one customer message; nil for system notices (a
// customer changing number), which nobody wrote.
func inboundMessage(in *inbound, v *changeValue, to string) *sb.Message {
	if in.Type == "system" || in.ID == "" {
		return nil
	}
	from := in.From
	if from == "" && len(v.Contacts) == 1 {
		from = v.Contacts[0].WaID
	}
	meta := map[string]any{"kind": in.Type}
	m := &sb.Message{
		Channel: sb.ChannelWhatsApp, Direction: sb.Inbound, Status: sb.StatusReceived,
		From: e164(from), To: to, Provider: Name, ProviderMessageID: in.ID,
	}
	for _, ct := range v.Contacts {
		if ct.Profile.Name != "" && (e164(ct.WaID) == m.From || len(v.Contacts) == 1) {
			meta["profile_name"] = ct.Profile.Name
			break
		}
	}
	if in.Context != nil && in.Context.ID != "" {
		meta["context_message_id"] = in.Context.ID
	}
	switch {
	case in.Type == "text" && in.Text != nil:
		m.Text = in.Text.Body
	case in.Type == "button" && in.Button != nil:
		m.Text = firstNonEmpty(in.Button.Text, in.Button.Payload)
		meta["payload"] = in.Button.Payload
	case in.Type == "interactive" && in.Interactive != nil:
		meta["kind"] = firstNonEmpty(in.Interactive.Type, "interactive")
		if r := firstReply(in.Interactive.ButtonReply, in.Interactive.ListReply); r != nil {
			m.Text = firstNonEmpty(r.Title, r.ID)
			meta["reply_id"] = r.ID
			if r.Description != "" {
				meta["description"] = r.Description
			}
		}
	case in.Type == "location" && in.Location != nil:
		l := in.Location
		meta["latitude"], meta["longitude"] = l.Latitude, l.Longitude
		for k, s := range map[string]string{"name": l.Name, "address": l.Address, "url": l.URL} {
			if s != "" {
				meta[k] = s
			}
		}
	case in.Type == "reaction" && in.Reaction != nil:
		m.Text = in.Reaction.Emoji
		meta["reacted_message_id"] = in.Reaction.MessageID
	default:
		if md := in.media(); md != nil {
			m.Text = md.Caption
			meta["whatsapp_media_id"] = md.ID
			meta["mime_type"] = md.MimeType
			if md.Filename != "" {
				meta["filename"] = md.Filename
			}
		}
	}
	m.Metadata, _ = json.Marshal(meta) // strings and floats only: cannot fail
	return m
}

// media is the attachment of a media message of in's type, if any.
func (in *inbound) media() *media {
	switch in.Type {
	case "image":
		return in.Image
	case "video":
		return in.Video
	case "audio":
		return in.Audio
	case "document":
		return in.Document
	case "sticker":
		return in.Sticker
	}
	return nil
}

func firstReply(rs ...*reply) *reply {
	for _, r := range rs {
		if r != nil {
			return r
		}
	}
	return nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
