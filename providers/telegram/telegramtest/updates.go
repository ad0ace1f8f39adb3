package telegramtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The Bot API objects the fake sends and answers with, with the fields
// (and in the order) Telegram's server writes them; empty optional fields
// are left out, as Telegram leaves them out.

// User is a Telegram user or bot.
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitempty"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

// Chat is a private chat, group, supergroup or channel.
type Chat struct {
	ID        int64  `json:"id"`
	Title     string `json:"title,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Username  string `json:"username,omitempty"`
	Type      string `json:"type"`
}

// PrivateChat is the private chat between u and the bot: its id is u's.
func PrivateChat(u User) Chat {
	return Chat{ID: u.ID, FirstName: u.FirstName, LastName: u.LastName, Username: u.Username, Type: "private"}
}

// MessageEntity marks a command, a link, a mention… in a message's text.
type MessageEntity struct {
	Offset int    `json:"offset"`
	Length int    `json:"length"`
	Type   string `json:"type"`
}

// PhotoSize is one size of a photo.
type PhotoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileSize     int    `json:"file_size,omitempty"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
}

// Document is a file sent as a document.
type Document struct {
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileSize     int    `json:"file_size,omitempty"`
}

// Message is a message in a chat.
type Message struct {
	MessageID int64           `json:"message_id"`
	From      *User           `json:"from,omitempty"`
	Chat      Chat            `json:"chat"`
	Date      int64           `json:"date"`
	EditDate  int64           `json:"edit_date,omitempty"`
	Text      string          `json:"text,omitempty"`
	Entities  []MessageEntity `json:"entities,omitempty"`
	Photo     []PhotoSize     `json:"photo,omitempty"`
	Document  *Document       `json:"document,omitempty"`
	Caption   string          `json:"caption,omitempty"`
}

// ChatMember is a member's standing in a chat: creator, administrator,
// member, restricted, left or kicked.
type ChatMember struct {
	User      User   `json:"user"`
	Status    string `json:"status"`
	UntilDate *int64 `json:"until_date,omitempty"` // kicked only: 0 = forever
}

// ChatMemberUpdated is a change of a member's standing.
type ChatMemberUpdated struct {
	Chat          Chat       `json:"chat"`
	From          User       `json:"from"`
	Date          int64      `json:"date"`
	OldChatMember ChatMember `json:"old_chat_member"`
	NewChatMember ChatMember `json:"new_chat_member"`
}

// Update is what Telegram delivers to a webhook: an id and one kind of
// event.
type Update struct {
	UpdateID      int64              `json:"update_id"`
	Message       *Message           `json:"message,omitempty"`
	EditedMessage *Message           `json:"edited_message,omitempty"`
	MyChatMember  *ChatMemberUpdated `json:"my_chat_member,omitempty"`
}

func (s *Server) messageID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextMsg++
	return s.nextMsg
}

func (s *Server) updateID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextUpd++
	return s.nextUpd
}

// Text is from writing text to the bot in their private chat. A leading
// "/command" gets its bot_command entity, as Telegram adds one.
func (s *Server) Text(from User, text string) Update {
	m := &Message{MessageID: s.messageID(), From: &from, Chat: PrivateChat(from), Date: time.Now().Unix(), Text: text}
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		m.Entities = []MessageEntity{{Offset: 0, Length: len([]rune(cmd)), Type: "bot_command"}}
	}
	return Update{UpdateID: s.updateID(), Message: m}
}

// Photo is from sending the bot a photo (three sizes) with a caption.
func (s *Server) Photo(from User, caption string) Update {
	id := s.messageID()
	fid := fmt.Sprintf("AgACAgIAAxkBAAI%d", id)
	m := &Message{MessageID: id, From: &from, Chat: PrivateChat(from), Date: time.Now().Unix(), Caption: caption,
		Photo: []PhotoSize{
			{FileID: fid + "_s", FileUniqueID: fmt.Sprintf("AQADs%d", id), FileSize: 1290, Width: 90, Height: 67},
			{FileID: fid + "_m", FileUniqueID: fmt.Sprintf("AQADm%d", id), FileSize: 20170, Width: 320, Height: 240},
			{FileID: fid + "_l", FileUniqueID: fmt.Sprintf("AQADl%d", id), FileSize: 102311, Width: 1280, Height: 960},
		}}
	return Update{UpdateID: s.updateID(), Message: m}
}

// Blocked is from blocking the bot: in a private chat Telegram reports it
// as the bot's my_chat_member going from "member" to "kicked".
func (s *Server) Blocked(from User) Update {
	forever := int64(0)
	return s.memberChange(from, ChatMember{User: s.Bot, Status: "member"}, ChatMember{User: s.Bot, Status: "kicked", UntilDate: &forever})
}

// Unblocked is from unblocking the bot: "kicked" back to "member".
func (s *Server) Unblocked(from User) Update {
	forever := int64(0)
	return s.memberChange(from, ChatMember{User: s.Bot, Status: "kicked", UntilDate: &forever}, ChatMember{User: s.Bot, Status: "member"})
}

func (s *Server) memberChange(from User, was, is ChatMember) Update {
	return Update{UpdateID: s.updateID(), MyChatMember: &ChatMemberUpdated{
		Chat: PrivateChat(from), From: from, Date: time.Now().Unix(), OldChatMember: was, NewChatMember: is}}
}

// SecretHeader carries setWebhook's secret_token on every delivery.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Deliver posts u to the registered webhook with its secret token, as
// Telegram delivers updates, and returns the status the webhook answered.
func (s *Server) Deliver(u Update) (int, error) {
	wh := s.Webhook()
	if wh.URL == "" {
		return 0, errors.New("telegramtest: no webhook is set")
	}
	return Post(wh.URL, wh.SecretToken, u)
}

// Post posts u to url the way Telegram's webhook delivery does: one JSON
// update, with secretToken in SecretHeader (no header when it is "").
// Use it to forge a delivery with a wrong or missing secret.
func Post(url, secretToken string, u Update) (int, error) {
	body, err := json.Marshal(u)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	if secretToken != "" {
		req.Header.Set(SecretHeader, secretToken)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
