package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	sb "github.com/switchboardhq/switchboard"
)

// imageExts are the extensions sent with sendPhoto; any other URL goes as
// a document, which Telegram accepts whatever the file is.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".webp": true}

// channelUsername is a public channel's address, which chat_id also takes.
var channelUsername = regexp.MustCompile(`^@[A-Za-z][A-Za-z0-9_]{3,}$`)

// outgoing is one Bot API call of a send.
type outgoing struct {
	method string
	params map[string]any
}

// Send delivers m to the chat m.To: its text alone with sendMessage, or
// its first attachment with the text as caption (sendPhoto for images,
// sendDocument otherwise) and each further attachment as its own message.
//
// Telegram reports no delivery: a message the Bot API accepted is already
// in the chat. So a success comes back with a "delivered" receipt to apply
// at once (ReceiptDelay 0), and the message never sits at "sent".
//
// Once the first message of a multi-part send is in the chat, a later part
// failing does not fail the send: retrying would post the first part
// again. The receipt is still "delivered" and carries the later part's
// error code and message instead.
func (c *Client) Send(ctx context.Context, m *sb.Message) (sb.SendResult, error) {
	chatID, err := parseChatID(m.To)
	if err != nil {
		return sb.SendResult{}, &sb.ProviderError{Code: "invalid_chat_id", Message: err.Error(), Permanent: true}
	}
	calls, err := plan(chatID, m)
	if err != nil {
		return sb.SendResult{}, err
	}
	var r sb.Receipt
	for i, o := range calls {
		var sent message
		if err := c.call(ctx, o.method, o.params, &sent); err != nil {
			pe := providerError(err)
			if i == 0 {
				return sb.SendResult{}, pe
			}
			r.ErrorCode = pe.Code
			r.ErrorMessage = fmt.Sprintf("attachment %d of %d not sent: %s", i+1, len(m.MediaURLs), pe.Message)
			break
		}
		if i == 0 {
			r = sb.Receipt{
				AccountID: m.AccountID, MessageID: m.ID, Provider: sb.ProviderTelegram,
				ProviderMessageID: messageID(sent, m.To), Status: sb.StatusDelivered,
			}
		}
	}
	return sb.SendResult{ProviderMessageID: r.ProviderMessageID, Receipt: &r}, nil
}

// parseChatID reads our normalised address: a decimal chat id (negative
// for groups), or a public channel's @username.
func parseChatID(to string) (any, error) {
	to = strings.TrimSpace(to)
	if id, err := strconv.ParseInt(to, 10, 64); err == nil && id != 0 {
		return id, nil
	}
	if channelUsername.MatchString(to) {
		return to, nil
	}
	return nil, fmt.Errorf("%q is not a Telegram chat id", to)
}

// plan lists the calls that send m.
func plan(chatID any, m *sb.Message) ([]outgoing, error) {
	if len(m.MediaURLs) == 0 {
		if m.Text == "" {
			return nil, &sb.ProviderError{Code: "empty_message", Message: "a message needs text or media", Permanent: true}
		}
		return []outgoing{{"sendMessage", map[string]any{"chat_id": chatID, "text": m.Text}}}, nil
	}
	calls := make([]outgoing, 0, len(m.MediaURLs))
	for i, raw := range m.MediaURLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, &sb.ProviderError{Code: "invalid_media_url", Permanent: true,
				Message: fmt.Sprintf("media URL %d is not an http(s) URL", i+1)}
		}
		method, field := "sendDocument", "document"
		if imageExts[strings.ToLower(path.Ext(u.Path))] {
			method, field = "sendPhoto", "photo"
		}
		params := map[string]any{"chat_id": chatID, field: raw}
		if i == 0 && m.Text != "" {
			params["caption"] = m.Text
		}
		calls = append(calls, outgoing{method, params})
	}
	return calls, nil
}

// messageID names a sent message "<chat_id>:<message_id>", the pair that
// identifies a message in the Bot API. The chat comes from Telegram's
// answer, which gives a channel addressed by @username its numeric id.
func messageID(sent message, to string) string {
	chat := strconv.FormatInt(sent.Chat.ID, 10)
	if sent.Chat.ID == 0 {
		chat = strings.TrimSpace(to)
	}
	return chat + ":" + strconv.FormatInt(sent.MessageID, 10)
}

// providerError classifies a failed call for the queue: Telegram's 429 and
// 5xx, answers that were not the Bot API's, timeouts and network failures
// are worth retrying; every other refusal (400 bad request, 401 token, 403
// forbidden, 404) will be refused again.
func providerError(err error) *sb.ProviderError {
	var ae *apiError
	var ne *netError
	switch {
	case errors.As(err, &ae):
		pe := &sb.ProviderError{Code: strconv.Itoa(ae.Code), Message: ae.Description, RetryAfter: ae.RetryAfter}
		switch {
		case ae.Malformed, ae.Code == http.StatusTooManyRequests, ae.Code >= 500:
		default:
			pe.Permanent = true
			pe.RetryAfter = 0
		}
		if ae.MigrateTo != 0 {
			pe.Message = fmt.Sprintf("%s; the chat is now %d (migrate_to_chat_id)", pe.Message, ae.MigrateTo)
		}
		pe.OptOut = ae.Code == http.StatusForbidden && refusesBot(ae.Description)
		return pe
	case errors.As(err, &ne):
		code := "network"
		if ne.timeout {
			code = "timeout"
		}
		return &sb.ProviderError{Code: code, Message: ne.msg}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &sb.ProviderError{Code: "timeout", Message: err.Error()}
	}
	var se *sb.Error
	if errors.As(err, &se) {
		// A malformed token: nothing to retry until the account fixes it.
		return &sb.ProviderError{Code: "invalid_credentials", Message: se.Message, Permanent: true}
	}
	return &sb.ProviderError{Code: "network", Message: err.Error()}
}

// refusesBot reports whether a 403 means the chat turned the bot away:
// the user blocked it, or a group or channel kicked it. "user is
// deactivated" (a deleted account) and "bot can't initiate conversation"
// (the user never started the bot) are permanent but are no one's refusal.
func refusesBot(description string) bool {
	d := strings.ToLower(description)
	return strings.Contains(d, "bot was blocked by the user") || strings.Contains(d, "bot was kicked from")
}
