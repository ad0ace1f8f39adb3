// Package stt turns recorded speech into text: an Engine interface and an
// implementation for OpenAI-compatible /audio/transcriptions endpoints
// (OpenAI's Whisper or a self-hosted server speaking its API).
package stt

import "context"

// Engine transcribes a WAV recording. language is BCP 47 (en-US) or an
// ISO 639-1 code (en); "" lets the engine detect it.
type Engine interface {
	Transcribe(ctx context.Context, wav []byte, language string) (string, error)
}
