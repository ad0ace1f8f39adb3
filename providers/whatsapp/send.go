package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"

	sb "github.com/switchboardhq/switchboard"
)

// outbound is the body of POST /{phone_number_id}/messages. Exactly one of
// the kind fields is set, named by Type.
type outbound struct {
	MessagingProduct string          `json:"messaging_product"`
	RecipientType    string          `json:"recipient_type"`
	To               string          `json:"to"`
	Type             string          `json:"type"`
	Text             *textPayload    `json:"text,omitempty"`
	Image            *mediaPayload   `json:"image,omitempty"`
	Video            *mediaPayload   `json:"video,omitempty"`
	Audio            *mediaPayload   `json:"audio,omitempty"`
	Document         *mediaPayload   `json:"document,omitempty"`
	Template         json.RawMessage `json:"template,omitempty"`
}

type textPayload struct {
	PreviewURL bool   `json:"preview_url"`
	Body       string `json:"body"`
}

type mediaPayload struct {
	Link     string `json:"link"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// sendAnswer is the Graph API's answer to an accepted send.
type sendAnswer struct {
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
}

// Send sends m from the connected phone number: a template when its
// metadata carries one, media when it has a media URL, text otherwise.
// Refusals are *sb.ProviderError, classified for the queue.
func (c *Client) Send(ctx context.Context, m *sb.Message) (sb.SendResult, error) {
	body, err := buildOutbound(m)
	if err != nil {
		return sb.SendResult{}, err
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return sb.SendResult{}, fmt.Errorf("whatsapp: encode message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(c.creds.PhoneNumberID, "messages"), bytes.NewReader(payload))
	if err != nil {
		return sb.SendResult{}, fmt.Errorf("whatsapp: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, answer, err := c.do(req)
	if err != nil {
		return sb.SendResult{}, c.transportError(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return sb.SendResult{}, c.providerError(resp, answer)
	}
	var a sendAnswer
	if err := json.Unmarshal(answer, &a); err != nil || len(a.Messages) == 0 || a.Messages[0].ID == "" {
		// Meta took the request but its answer names no message: retrying
		// could send it twice, so this is not retried.
		return sb.SendResult{}, &sb.ProviderError{Code: "bad_response", Message: "WhatsApp Cloud API accepted the message without a message id", Permanent: true}
	}
	return sb.SendResult{ProviderMessageID: a.Messages[0].ID}, nil
}

// do sends req with the bearer token and reads at most maxResponse of the
// answer.
func (c *Client) do(req *http.Request) (*http.Response, []byte, error) {
	req.Header.Set("Authorization", "Bearer "+c.creds.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

// buildOutbound maps m onto a Cloud API message. Problems with m itself are
// permanent refusals: sending it again cannot help.
func buildOutbound(m *sb.Message) (*outbound, error) {
	if m.Channel != "" && m.Channel != sb.ChannelWhatsApp {
		return nil, &sb.ProviderError{Code: "unsupported_channel", Message: "WhatsApp Cloud does not send on channel " + string(m.Channel), Permanent: true}
	}
	to := strings.TrimPrefix(m.To, "+")
	if !digits(to) {
		return nil, &sb.ProviderError{Code: "invalid_to", Message: fmt.Sprintf("WhatsApp recipients are phone numbers in E.164 form, got %q", m.To), Permanent: true}
	}
	o := &outbound{MessagingProduct: "whatsapp", RecipientType: "individual", To: to}
	tpl, err := template(m.Metadata)
	if err != nil {
		return nil, &sb.ProviderError{Code: "invalid_template", Message: err.Error(), Permanent: true}
	}
	switch {
	case tpl != nil:
		o.Type, o.Template = "template", tpl
	case len(m.MediaURLs) > 0:
		kind := mediaKind(m.MediaURLs[0])
		p := &mediaPayload{Link: m.MediaURLs[0]}
		if kind != "audio" { // audio takes no caption
			p.Caption = m.Text
		}
		o.Type = kind
		switch kind {
		case "image":
			o.Image = p
		case "video":
			o.Video = p
		case "audio":
			o.Audio = p
		default:
			p.Filename = mediaFilename(m.MediaURLs[0])
			o.Document = p
		}
	case m.Text == "":
		return nil, &sb.ProviderError{Code: "empty_message", Message: "a message needs text, media or a template", Permanent: true}
	default:
		o.Type, o.Text = "text", &textPayload{Body: m.Text}
	}
	return o, nil
}

// mediaKind picks the Cloud API media type from the URL's extension; what
// WhatsApp would not play inline goes as a document.
func mediaKind(link string) string {
	switch strings.ToLower(path.Ext(urlPath(link))) {
	case ".jpg", ".jpeg", ".png":
		return "image"
	case ".mp4", ".3gp", ".3gpp":
		return "video"
	case ".aac", ".amr", ".mp3", ".m4a", ".ogg", ".opus":
		return "audio"
	}
	return "document"
}

// mediaFilename is the name a document is shown under: the last path
// segment of its URL.
func mediaFilename(link string) string {
	name := path.Base(urlPath(link))
	if name == "." || name == "/" {
		return ""
	}
	return name
}

// urlPath is link's path without query or fragment.
func urlPath(link string) string {
	if u, err := url.Parse(link); err == nil {
		return u.Path
	}
	return link
}
