package twilio

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	sb "github.com/switchboardhq/switchboard"
)

// emptyTwiML answers an inbound message: Twilio expects TwiML back, and an
// empty <Response> sends no reply of its own.
var emptyTwiML = []byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)

// twimlContentType is the content type of emptyTwiML.
const twimlContentType = "text/xml"

// ParseWebhook verifies and reads one webhook Twilio posted: an inbound
// SMS, MMS or WhatsApp message (answered with empty TwiML) or a message
// status callback (answered with no body). The X-Twilio-Signature header is
// checked first, against publicURL exactly as Twilio called it and every
// form parameter; anything else (voice webhooks, unknown kinds) yields an
// empty batch.
func (c *Client) ParseWebhook(r *http.Request, body []byte, publicURL string) (*sb.InboundBatch, error) {
	// A webhook configured as GET carries its parameters in the URL, which
	// is signed as it stands; a POST's are in the form body.
	var params, signed url.Values
	var perr error
	if r.Method == http.MethodGet {
		u, err := url.Parse(publicURL)
		if err != nil {
			return nil, sb.ErrForged
		}
		params, perr = url.ParseQuery(u.RawQuery)
		signed = url.Values{}
	} else {
		// ParseQuery keeps what it could decode past an error, so a body
		// Twilio signed that we cannot read is told apart from a forgery.
		params, perr = url.ParseQuery(string(body))
		signed = params
	}
	if !c.signatureValid(r.Header.Get("X-Twilio-Signature"), publicURL, signed) {
		return nil, sb.ErrForged
	}
	if perr != nil {
		return nil, sb.Errorf(sb.EINVALID, "twilio webhook: malformed form body: %v", perr)
	}

	sid := firstOf(params, "MessageSid", "SmsMessageSid", "SmsSid")
	status := firstOf(params, "MessageStatus", "SmsStatus")
	switch {
	case status == "received", status == "" && sid != "" && (params.Has("Body") || params.Has("NumMedia")):
		return inbound(params, sid)
	case status != "" && sid != "":
		return receipt(params, sid, status)
	case status != "":
		return nil, sb.Errorf(sb.EINVALID, "twilio webhook: message status %q without MessageSid", status)
	}
	return &sb.InboundBatch{}, nil
}

// signatureValid checks sig the way twilio-go does (URL with and without
// its port). twilio-go signs only the first value of a repeated parameter,
// where Twilio's Node and Python libraries sign every value, sorted and
// de-duplicated; both forms are accepted.
func (c *Client) signatureValid(sig, publicURL string, params url.Values) bool {
	if sig == "" || c.creds.AuthToken == "" {
		return false
	}
	first := make(map[string]string, len(params))
	repeated := false
	for k, vs := range params {
		first[k] = vs[0]
		repeated = repeated || len(vs) > 1
	}
	if c.validator.Validate(publicURL, first, sig) {
		return true
	}
	if !repeated {
		return false
	}
	// twilio-go appends key+value per key; joining a key's values with the
	// key itself yields key+v1+key+v2…, the string the other libraries sign.
	all := make(map[string]string, len(params))
	for k, vs := range params {
		vals := slices.Clone(vs)
		slices.Sort(vals)
		all[k] = strings.Join(slices.Compact(vals), k)
	}
	return c.validator.Validate(publicURL, all, sig)
}

// inbound reads a customer's message. Twilio's Advanced Opt-Out adds
// OptOutType (STOP, START or HELP) to a message whose whole body is a
// keyword, on numbers of a Messaging Service that has it enabled: STOP and
// START are reported as an opt-out and an opt-in besides the message.
func inbound(p url.Values, sid string) (*sb.InboundBatch, error) {
	from, to := p.Get("From"), p.Get("To")
	if from == "" || to == "" {
		return nil, sb.Errorf(sb.EINVALID, "twilio webhook: inbound message %s without From or To", sid)
	}
	batch := &sb.InboundBatch{Response: emptyTwiML, ContentType: twimlContentType}
	channel, fromAddr := splitAddress(from)
	_, toAddr := splitAddress(to)
	if channel == "" {
		// A channel we do not carry through Twilio (Messenger, RCS…).
		return batch, nil
	}
	m := &sb.Message{
		Channel:           channel,
		Direction:         sb.Inbound,
		Status:            sb.StatusReceived,
		From:              fromAddr,
		To:                toAddr,
		Text:              p.Get("Body"),
		Provider:          Name,
		ProviderMessageID: sid,
	}
	if n := p.Get("NumMedia"); n != "" {
		count, err := strconv.Atoi(n)
		if err != nil || count < 0 {
			return nil, sb.Errorf(sb.EINVALID, "twilio webhook: NumMedia %q is not a count", n)
		}
		for i := range count {
			u := p.Get("MediaUrl" + strconv.Itoa(i))
			if u == "" {
				return nil, sb.Errorf(sb.EINVALID, "twilio webhook: NumMedia is %d but MediaUrl%d is missing", count, i)
			}
			m.MediaURLs = append(m.MediaURLs, u)
		}
	}
	batch.Messages = []*sb.Message{m}

	keyword := strings.ToUpper(strings.TrimSpace(m.Text))
	switch t := strings.ToUpper(p.Get("OptOutType")); t {
	case "STOP", "START":
		if keyword == "" {
			keyword = t
		}
		o := sb.OptOut{Channel: channel, Address: fromAddr, Source: "provider", Keyword: keyword}
		if t == "STOP" {
			batch.OptOuts = append(batch.OptOuts, o)
		} else {
			batch.OptIns = append(batch.OptIns, o)
		}
	}
	return batch, nil
}

// receiptStatuses maps the message statuses a status callback reports to
// ours. queued, accepted, sending and scheduled are left out: our own
// lifecycle records those steps when we hand the message over. canceled
// (a scheduled message withdrawn) and partially_delivered have no
// counterpart and are ignored too.
var receiptStatuses = map[string]sb.Status{
	"sent":        sb.StatusSent,
	"delivered":   sb.StatusDelivered,
	"undelivered": sb.StatusUndelivered,
	"failed":      sb.StatusFailed,
	"read":        sb.StatusRead,
}

// deliveryErrors titles the asynchronous error codes of undelivered and
// failed messages: status callbacks carry only ErrorCode.
var deliveryErrors = map[string]string{
	"30001": "Queue overflow",
	"30002": "Account suspended",
	"30003": "Unreachable destination handset",
	"30004": "Message blocked",
	"30005": "Unknown destination handset",
	"30006": "Landline or unreachable carrier",
	"30007": "Message filtered",
	"30008": "Unknown error",
	"63016": "Outside the allowed WhatsApp window",
}

// receipt reads a status callback for a message we sent.
func receipt(p url.Values, sid, status string) (*sb.InboundBatch, error) {
	st, ok := receiptStatuses[status]
	if !ok {
		return &sb.InboundBatch{}, nil
	}
	r := sb.Receipt{Provider: Name, ProviderMessageID: sid, Status: st, ErrorCode: p.Get("ErrorCode")}
	if r.ErrorCode != "" {
		r.ErrorMessage = p.Get("ErrorMessage")
		if r.ErrorMessage == "" {
			r.ErrorMessage = deliveryErrors[r.ErrorCode]
		}
	}
	return &sb.InboundBatch{Receipts: []sb.Receipt{r}}, nil
}

// splitAddress turns a Twilio address into our channel and address:
// "whatsapp:+E164" is WhatsApp, a bare number SMS, any other prefix a
// channel we do not carry ("").
func splitAddress(addr string) (sb.Channel, string) {
	prefix, rest, ok := strings.Cut(addr, ":")
	switch {
	case !ok:
		return sb.ChannelSMS, addr
	case prefix == "whatsapp":
		return sb.ChannelWhatsApp, rest
	}
	return "", rest
}

// firstOf returns the first non-empty value among keys.
func firstOf(p url.Values, keys ...string) string {
	for _, k := range keys {
		if v := p.Get(k); v != "" {
			return v
		}
	}
	return ""
}
