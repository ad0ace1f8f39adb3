package telegram

import "encoding/json"

// The Bot API objects this package reads, with only the fields it uses.

type user struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot"`
	FirstName string `json:"first_name"`
	Username  string `json:"username"`
}

type chat struct {
	ID    int64  `json:"id"`
	Type  string `json:"type"` // private | group | supergroup | channel
	Title string `json:"title"`
}

// file is the part every attachment kind shares (PhotoSize, Document,
// Voice, Video, Audio, Animation, VideoNote, Sticker).
type file struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name"`
	MimeType     string `json:"mime_type"`
	FileSize     int64  `json:"file_size"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
}

type message struct {
	MessageID int64  `json:"message_id"`
	From      *user  `json:"from"`
	Chat      chat   `json:"chat"`
	Date      int64  `json:"date"`
	EditDate  int64  `json:"edit_date"`
	Text      string `json:"text"`
	Caption   string `json:"caption"`

	Photo     []file `json:"photo"` // one entry per size
	Animation *file  `json:"animation"`
	Audio     *file  `json:"audio"`
	Document  *file  `json:"document"`
	Sticker   *file  `json:"sticker"`
	Video     *file  `json:"video"`
	VideoNote *file  `json:"video_note"`
	Voice     *file  `json:"voice"`

	Contact  json.RawMessage `json:"contact"`
	Location json.RawMessage `json:"location"`
	Venue    json.RawMessage `json:"venue"`
}

type chatMember struct {
	Status   string `json:"status"` // creator | administrator | member | restricted | left | kicked
	IsMember bool   `json:"is_member"`
}

type chatMemberUpdated struct {
	Chat          chat       `json:"chat"`
	From          user       `json:"from"`
	Date          int64      `json:"date"`
	OldChatMember chatMember `json:"old_chat_member"`
	NewChatMember chatMember `json:"new_chat_member"`
}

type update struct {
	UpdateID      int64              `json:"update_id"`
	Message       *message           `json:"message"`
	EditedMessage *message           `json:"edited_message"`
	MyChatMember  *chatMemberUpdated `json:"my_chat_member"`
}
