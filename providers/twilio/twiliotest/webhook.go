package twiliotest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhook is a request Twilio makes to an application: a form of
// parameters posted to URL. Build one with StatusCallback, InboundSMS or
// InboundWhatsApp; change Params or URL to make a variant; post it with
// Server.Deliver, or with Post and any signature to forge one. A Webhook
// posted twice is what Twilio's retries look like.
type Webhook struct {
	URL    string
	Params url.Values
}

// WebhookResponse is what the application answered.
type WebhookResponse struct {
	Status      int
	ContentType string
	Body        []byte
}

// Signature returns X-Twilio-Signature for w as Twilio computes it:
// base64(HMAC-SHA1(authToken, URL + each parameter's name and value, names
// in byte order)). A repeated name contributes each of its values, sorted
// and de-duplicated, as Twilio's helper libraries sign them.
func (w Webhook) Signature(authToken string) string {
	var b strings.Builder
	b.WriteString(w.URL)
	for _, k := range slices.Sorted(maps.Keys(w.Params)) {
		vals := slices.Clone(w.Params[k])
		slices.Sort(vals)
		for _, v := range slices.Compact(vals) {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	io.WriteString(mac, b.String())
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Post posts w with the given X-Twilio-Signature ("" sends none), with the
// headers Twilio sends, and returns the answer.
func (w Webhook) Post(signature string) (*WebhookResponse, error) {
	req, err := http.NewRequest(http.MethodPost, w.URL, strings.NewReader(w.Params.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("I-Twilio-Idempotency-Token", newSid(""))
	if signature != "" {
		req.Header.Set("X-Twilio-Signature", signature)
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &WebhookResponse{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: body}, nil
}

// Deliver posts w signed with the account's auth token, as Twilio does.
func (s *Server) Deliver(w Webhook) (*WebhookResponse, error) {
	return w.Post(w.Signature(s.AuthToken))
}

// StatusCallback builds the status callback Twilio posts to the
// StatusCallback URL of message sid when it reaches status (sent,
// delivered, undelivered, failed, read…). errorCode is set on undelivered
// and failed ones ("30003"). WhatsApp messages carry the channel fields
// Twilio adds for them.
func (s *Server) StatusCallback(sid, status, errorCode string) (Webhook, error) {
	m, ok := s.Message(sid)
	if !ok {
		return Webhook{}, fmt.Errorf("twiliotest: no message %s was sent", sid)
	}
	if m.StatusCallback == "" {
		return Webhook{}, fmt.Errorf("twiliotest: message %s was sent without a StatusCallback", sid)
	}
	p := url.Values{
		"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"},
		"MessageSid": {sid}, "SmsSid": {sid}, "MessageStatus": {status}, "SmsStatus": {status},
		"To": {m.To},
	}
	if m.From != "" {
		p.Set("From", m.From)
	}
	if m.MessagingServiceSid != "" {
		p.Set("MessagingServiceSid", m.MessagingServiceSid)
	}
	if errorCode != "" {
		p.Set("ErrorCode", errorCode)
	}
	if to, ok := strings.CutPrefix(m.To, "whatsapp:"); ok {
		p.Set("ChannelPrefix", "whatsapp")
		p.Set("ChannelInstallSid", "XE"+strings.Repeat("0", 32))
		p.Set("ChannelStatusMessage", "[]")
		if len(to) > 4 {
			to = to[:len(to)-4] + "XXXX" // Twilio masks the address
		}
		p.Set("ChannelToAddress", to)
	} else if status == "delivered" || status == "undelivered" {
		p.Set("RawDlrDoneDate", time.Now().UTC().Format("0601021504"))
	}
	return Webhook{URL: m.StatusCallback, Params: p}, nil
}

// InboundSMS builds the request Twilio posts to a number's messaging
// webhook (hookURL) when from texts to: an SMS, or an MMS when mediaURLs
// are given. Each call gets a fresh MessageSid. Twilio's geographic fields
// (FromCity, ToZip…) are left out.
func (s *Server) InboundSMS(hookURL, from, to, body string, mediaURLs ...string) Webhook {
	prefix := "SM"
	if len(mediaURLs) > 0 {
		prefix = "MM"
	}
	p := s.inbound(prefix, from, to, body)
	p.Set("NumSegments", "1")
	p.Set("NumMedia", strconv.Itoa(len(mediaURLs)))
	for i, u := range mediaURLs {
		n := strconv.Itoa(i)
		p.Set("MediaUrl"+n, u)
		ct := mime.TypeByExtension(path.Ext(u))
		if ct == "" {
			ct = "application/octet-stream"
		}
		p.Set("MediaContentType"+n, ct)
	}
	return Webhook{URL: hookURL, Params: p}
}

// InboundWhatsApp builds the request Twilio posts to a WhatsApp sender's
// webhook (hookURL) when the WhatsApp user from (E.164, no prefix), named
// profileName, writes body to the sender to.
func (s *Server) InboundWhatsApp(hookURL, from, to, body, profileName string) Webhook {
	p := s.inbound("SM", "whatsapp:"+from, "whatsapp:"+to, body)
	p.Set("NumSegments", "1")
	p.Set("NumMedia", "0")
	p.Set("ReferralNumMedia", "0")
	p.Set("MessageType", "text")
	p.Set("ProfileName", profileName)
	p.Set("WaId", strings.TrimPrefix(from, "+"))
	return Webhook{URL: hookURL, Params: p}
}

func (s *Server) inbound(prefix, from, to, body string) url.Values {
	sid := newSid(prefix)
	return url.Values{
		"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"},
		"MessageSid": {sid}, "SmsMessageSid": {sid}, "SmsSid": {sid}, "SmsStatus": {"received"},
		"From": {from}, "To": {to}, "Body": {body},
	}
}
