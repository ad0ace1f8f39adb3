package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	sb "github.com/switchboardhq/switchboard"
)

// SecretHeader carries the secret_token given to setWebhook on every
// update Telegram delivers. Telegram does not sign bodies; this header is
// the whole proof that a request came from it.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// allowedUpdates are the update kinds the webhook subscribes to: what
// ParseWebhook reads, and nothing it would drop.
var allowedUpdates = []string{"message", "edited_message", "my_chat_member"}

// secretShape is what setWebhook accepts as secret_token. crypto/rand.Text
// produces one.
var secretShape = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// SetWebhook points the bot's updates at url, to be delivered with
// secretToken in SecretHeader. Pending updates are kept: messages sent
// to the bot before it was connected still arrive.
func (c *Client) SetWebhook(ctx context.Context, url, secretToken string) error {
	if !secretShape.MatchString(secretToken) {
		return sb.Invalid(sb.FieldError{Field: "secret_token", Message: `must be 1-256 letters, digits, "_" or "-"`})
	}
	params := map[string]any{
		"url":                  url,
		"secret_token":         secretToken,
		"allowed_updates":      allowedUpdates,
		"drop_pending_updates": false,
	}
	return c.webhookCall(ctx, "setWebhook", params, "set telegram webhook")
}

// DeleteWebhook stops update delivery, keeping the updates not yet
// delivered.
func (c *Client) DeleteWebhook(ctx context.Context) error {
	return c.webhookCall(ctx, "deleteWebhook", map[string]any{"drop_pending_updates": false}, "delete telegram webhook")
}

func (c *Client) webhookCall(ctx context.Context, method string, params any, what string) error {
	err := c.call(ctx, method, params, nil)
	var ae *apiError
	switch {
	case err == nil:
		return nil
	case refused(err):
		return refusedError(err)
	case errors.As(err, &ae) && ae.Code == http.StatusBadRequest:
		return sb.Errorf(sb.EINVALID, "telegram refused the webhook: %s", ae.Description)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ParseWebhook turns one update Telegram delivered into what it means for
// us, once SecretHeader proves Telegram sent it.
//
//   - message, edited_message: an inbound message from the chat (an edit
//     is marked in its metadata and keeps the original's provider id).
//     "/start" also opts the chat back in: a user who starts the bot wants
//     its messages.
//   - my_chat_member: the bot blocked or removed from the chat opts it
//     out; unblocked or added back opts it in.
//
// Attachments come as a file id in the metadata, not in MediaURLs: the
// download URL would contain the bot token. Any other update yields an
// empty batch. Telegram wants nothing but a 2xx back, so Response is nil.
// publicURL is not used: Telegram's secret header does not depend on it.
func (c *Client) ParseWebhook(r *http.Request, body []byte, publicURL string) (*sb.InboundBatch, error) {
	if !c.secretMatches(r.Header.Get(SecretHeader)) {
		return nil, sb.ErrForged
	}
	var u update
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, sb.Errorf(sb.EINVALID, "telegram update is not valid JSON: %v", err)
	}
	b := &sb.InboundBatch{}
	switch {
	case u.Message != nil:
		c.addMessage(b, u.UpdateID, u.Message, false)
	case u.EditedMessage != nil:
		c.addMessage(b, u.UpdateID, u.EditedMessage, true)
	case u.MyChatMember != nil:
		addMemberChange(b, u.MyChatMember)
	}
	return b, nil
}

// secretMatches compares got with our secret in constant time; hashing
// first keeps the comparison from revealing the secret's length. With no
// secret configured nothing matches.
func (c *Client) secretMatches(got string) bool {
	if c.secret == "" || got == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(c.secret))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// inboundMeta is an inbound message's metadata. Kind and FileID sit at the
// top so that API clients find an attachment without knowing Telegram.
type inboundMeta struct {
	Telegram telegramMeta `json:"telegram"`
	FileID   string       `json:"telegram_file_id,omitempty"`
	Kind     string       `json:"kind,omitempty"`
}

type telegramMeta struct {
	UpdateID  int64           `json:"update_id"`
	From      *metaUser       `json:"from,omitempty"`
	ChatType  string          `json:"chat_type,omitempty"`
	ChatTitle string          `json:"chat_title,omitempty"`
	Date      int64           `json:"date,omitempty"`
	Edited    bool            `json:"edited,omitempty"`
	EditDate  int64           `json:"edit_date,omitempty"`
	File      *metaFile       `json:"file,omitempty"`
	Contact   json.RawMessage `json:"contact,omitempty"`
	Location  json.RawMessage `json:"location,omitempty"`
	Venue     json.RawMessage `json:"venue,omitempty"`
}

type metaUser struct {
	ID        int64  `json:"id"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
}

type metaFile struct {
	FileUniqueID string `json:"file_unique_id,omitempty"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// addMessage adds msg as an inbound message, and an opt-in when it is
// /start. A message with nothing we can carry (a poll, a service message
// such as a member joining) is left out.
func (c *Client) addMessage(b *sb.InboundBatch, updateID int64, msg *message, edited bool) {
	meta := inboundMeta{Telegram: telegramMeta{
		UpdateID: updateID, ChatType: msg.Chat.Type, ChatTitle: msg.Chat.Title, Date: msg.Date,
		Edited: edited, EditDate: msg.EditDate,
		Contact: msg.Contact, Location: msg.Location, Venue: msg.Venue,
	}}
	if f := msg.From; f != nil {
		meta.Telegram.From = &metaUser{ID: f.ID, Username: f.Username, FirstName: f.FirstName}
	}
	text := msg.Text
	if kind, f := attachment(msg); f != nil {
		text, meta.Kind, meta.FileID = msg.Caption, kind, f.FileID
		meta.Telegram.File = &metaFile{FileUniqueID: f.FileUniqueID, FileName: f.FileName, MimeType: f.MimeType, FileSize: f.FileSize}
	} else if text == "" {
		switch {
		case msg.Venue != nil: // a venue carries its location too
			meta.Kind = "venue"
		case msg.Location != nil:
			meta.Kind = "location"
		case msg.Contact != nil:
			meta.Kind = "contact"
		default:
			return
		}
	}
	metadata, _ := json.Marshal(meta) // plain structs: cannot fail
	chatID := strconv.FormatInt(msg.Chat.ID, 10)
	b.Messages = append(b.Messages, &sb.Message{
		Channel: sb.ChannelTelegram, Direction: sb.Inbound, Status: sb.StatusReceived,
		From: chatID, To: c.username, Text: text, Metadata: metadata,
		Provider: sb.ProviderTelegram, ProviderMessageID: chatID + ":" + strconv.FormatInt(msg.MessageID, 10),
	})
	if !edited && c.isStart(msg.Text) {
		b.OptIns = append(b.OptIns, sb.OptOut{Channel: sb.ChannelTelegram, Address: chatID, Source: "provider", Keyword: "start"})
	}
}

// attachment returns msg's file and its kind, if it has one. Of a photo's
// sizes the largest is kept.
func attachment(msg *message) (string, *file) {
	if len(msg.Photo) > 0 {
		best := &msg.Photo[0]
		for i := range msg.Photo {
			if p := &msg.Photo[i]; p.Width*p.Height > best.Width*best.Height {
				best = p
			}
		}
		return "photo", best
	}
	// Animation before document: Telegram sets both for an animation.
	for _, a := range []struct {
		kind string
		f    *file
	}{
		{"animation", msg.Animation}, {"document", msg.Document}, {"audio", msg.Audio},
		{"video", msg.Video}, {"video_note", msg.VideoNote}, {"voice", msg.Voice}, {"sticker", msg.Sticker},
	} {
		if a.f != nil {
			return a.kind, a.f
		}
	}
	return "", nil
}

// isStart reports whether text is the /start command addressed to us:
// "/start", "/start <payload>" (a deep link) or "/start@ourbot". The text
// is read rather than the bot_command entity: Telegram's own examples of
// /start updates come without entities.
func (c *Client) isStart(text string) bool {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return false
	}
	cmd, bot, addressed := strings.Cut(fields[0], "@")
	if cmd != "/start" {
		return false
	}
	ours := strings.TrimPrefix(c.username, "@")
	return !addressed || ours == "" || strings.EqualFold(bot, ours)
}

// addMemberChange reads a change of the bot's own membership in a chat.
// In a private chat Telegram sends one only when the user blocks the bot
// ("kicked") or unblocks it ("member"); in groups and channels it reports
// the bot being removed or added.
func addMemberChange(b *sb.InboundBatch, u *chatMemberUpdated) {
	addr := strconv.FormatInt(u.Chat.ID, 10)
	was, is := present(u.OldChatMember), present(u.NewChatMember)
	o := sb.OptOut{Channel: sb.ChannelTelegram, Address: addr, Source: "provider"}
	switch {
	case u.NewChatMember.Status == "kicked":
		o.Keyword = "bot_blocked"
		b.OptOuts = append(b.OptOuts, o)
	case u.NewChatMember.Status == "left":
		o.Keyword = "bot_removed"
		b.OptOuts = append(b.OptOuts, o)
	case is && !was:
		o.Keyword = "bot_added"
		if u.OldChatMember.Status == "kicked" {
			o.Keyword = "bot_unblocked"
		}
		b.OptIns = append(b.OptIns, o)
	}
}

// present reports whether a member status lets the bot write to the chat.
func present(m chatMember) bool {
	switch m.Status {
	case "creator", "administrator", "member":
		return true
	case "restricted":
		return m.IsMember
	}
	return false
}
