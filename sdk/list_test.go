package sdk

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pages serves a cursor-paginated list: page i holds ids[i] and points at
// cursor "c<i+1>" unless it is the last.
func pages(t *testing.T, ids [][]string, item func(id string) string) func(int, recorded, http.ResponseWriter) {
	return func(_ int, r recorded, w http.ResponseWriter) {
		i := 0
		if c := r.Query.Get("cursor"); c != "" {
			var err error
			if i, err = parseCursor(c); err != nil || i <= 0 || i >= len(ids) {
				t.Errorf("unexpected cursor %q", c)
				problem(w, http.StatusBadRequest, "validation", "bad cursor")
				return
			}
		}
		items := make([]string, len(ids[i]))
		for j, id := range ids[i] {
			items[j] = item(id)
		}
		next, more := "null", "false"
		if i < len(ids)-1 {
			next, more = `"c`+string(rune('0'+i+1))+`"`, "true"
		}
		reply(w, http.StatusOK, `{"data":[`+strings.Join(items, ",")+`],"has_more":`+more+`,"next_cursor":`+next+`}`)
	}
}

// parseCursor parses the fake's cursors, "c<digit>".
func parseCursor(c string) (int, error) {
	if len(c) != 2 || c[0] != 'c' || c[1] < '0' || c[1] > '9' {
		return 0, errors.New("bad cursor")
	}
	return int(c[1] - '0'), nil
}

func TestMessagesListFollowsCursorAcrossPages(t *testing.T) {
	ids := [][]string{{"m9", "m8"}, {"m7", "m6"}, {"m5"}}
	c, f := newFake(t, pages(t, ids, messageWithID))
	after := time.Date(2026, 11, 1, 0, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	params := &ListMessagesParams{
		Limit: 2, Channel: ChannelSMS, Status: StatusDelivered, Direction: Outbound, To: "+79991234567",
		CreatedAfter: after, CreatedBefore: after.Add(24 * time.Hour),
	}

	var got []string
	for m, err := range c.Messages.List(context.Background(), params) {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		got = append(got, m.ID)
	}
	if want := "m9 m8 m7 m6 m5"; strings.Join(got, " ") != want {
		t.Errorf("ids = %v, want %s", got, want)
	}

	reqs := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.Method != "GET" || r.Path != "/v1/messages" {
			t.Errorf("page %d: %s %s", i, r.Method, r.Path)
		}
		// Every page repeats the filters, as the API requires.
		want := map[string]string{
			"limit": "2", "channel": "sms", "status": "delivered", "direction": "outbound", "to": "+79991234567",
			"created_after": "2026-10-31T21:00:00Z", "created_before": "2026-11-01T21:00:00Z",
			"cursor": []string{"", "c1", "c2"}[i],
		}
		for k, v := range want {
			if got := r.Query.Get(k); got != v {
				t.Errorf("page %d: %s = %q, want %q", i, k, got, v)
			}
		}
	}
}

func TestListIteration(t *testing.T) {
	ids := [][]string{{"a", "b"}, {"c", "d"}, {"e"}}
	tests := []struct {
		name      string
		respond   func(int, recorded, http.ResponseWriter)
		stopAfter int // break after this many items; 0: never
		wantIDs   string
		wantErr   bool
		wantReqs  int
	}{
		{
			name: "nil params and an empty list",
			respond: func(_ int, _ recorded, w http.ResponseWriter) {
				reply(w, 200, `{"data":[],"has_more":false,"next_cursor":null}`)
			},
			wantReqs: 1,
		},
		{
			name:      "breaking early fetches no further page",
			respond:   pages(t, ids, messageWithID),
			stopAfter: 3,
			wantIDs:   "a b c",
			wantReqs:  2,
		},
		{
			name: "an error on page 2 is yielded once and ends the loop",
			respond: func(n int, r recorded, w http.ResponseWriter) {
				if n == 1 {
					problem(w, http.StatusUnauthorized, "unauthorized", "Unauthorized")
					return
				}
				pages(t, ids, messageWithID)(n, r, w)
			},
			wantIDs:  "a b",
			wantErr:  true,
			wantReqs: 2,
		},
		{
			name: "a repeated cursor is an error, not an endless loop",
			respond: func(_ int, _ recorded, w http.ResponseWriter) {
				reply(w, 200, `{"data":[`+messageWithID("x")+`],"has_more":true,"next_cursor":"same"}`)
			},
			wantIDs:  "x x",
			wantErr:  true,
			wantReqs: 2,
		},
		{
			name: "has_more without a cursor ends the list",
			respond: func(_ int, _ recorded, w http.ResponseWriter) {
				reply(w, 200, `{"data":[`+messageWithID("x")+`],"has_more":true,"next_cursor":null}`)
			},
			wantIDs:  "x",
			wantReqs: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := newFake(t, tt.respond)
			var got []string
			var errs int
			for m, err := range c.Messages.List(context.Background(), nil) {
				if err != nil {
					errs++
					if m != nil {
						t.Error("error yielded with a non-nil item")
					}
					continue // the iterator must end by itself
				}
				got = append(got, m.ID)
				if len(got) == tt.stopAfter {
					break
				}
			}
			if strings.Join(got, " ") != tt.wantIDs {
				t.Errorf("ids = %v, want %q", got, tt.wantIDs)
			}
			if (errs > 0) != tt.wantErr || errs > 1 {
				t.Errorf("errors yielded = %d, want error: %v", errs, tt.wantErr)
			}
			if n := len(f.requests()); n != tt.wantReqs {
				t.Errorf("requests = %d, want %d", n, tt.wantReqs)
			}
		})
	}
}

func TestWebhookListsPaginate(t *testing.T) {
	ids := [][]string{{"e1"}, {"e2"}, {"e3"}}
	tests := []struct {
		name     string
		item     func(string) string
		list     func(*Client) ([]string, error)
		wantPath string
	}{
		{
			name: "endpoints",
			item: func(id string) string {
				return `{"id":"` + id + `","url":"https://example.com","events":["*"],"description":"","enabled":true,` +
					`"disabled_reason":null,"created_at":"2026-11-23T06:00:00Z","updated_at":"2026-11-23T06:00:00Z"}`
			},
			list: func(c *Client) ([]string, error) {
				var out []string
				for e, err := range c.WebhookEndpoints.List(context.Background(), &ListWebhookEndpointsParams{Limit: 1}) {
					if err != nil {
						return nil, err
					}
					out = append(out, e.ID)
				}
				return out, nil
			},
			wantPath: "/v1/webhook-endpoints",
		},
		{
			name: "attempts",
			item: func(id string) string {
				return `{"id":"` + id + `","endpoint_id":"ep1","webhook_id":"msg_1","event_type":"message.sent","attempt":1,` +
					`"status_code":500,"error":null,"duration_ms":12,"created_at":"2026-11-23T06:00:00Z"}`
			},
			list: func(c *Client) ([]string, error) {
				var out []string
				for a, err := range c.WebhookEndpoints.Attempts(context.Background(), "ep1", &ListWebhookAttemptsParams{Limit: 1}) {
					if err != nil {
						return nil, err
					}
					if a.StatusCode == nil || *a.StatusCode != 500 || a.Error != nil || a.EventType != EventMessageSent {
						return nil, errors.New("attempt decoded wrong")
					}
					out = append(out, a.ID)
				}
				return out, nil
			},
			wantPath: "/v1/webhook-endpoints/ep1/attempts",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := newFake(t, pages(t, ids, tt.item))
			got, err := tt.list(c)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != "e1 e2 e3" {
				t.Errorf("ids = %v", got)
			}
			for i, r := range f.requests() {
				if r.Path != tt.wantPath || r.Query.Get("limit") != "1" {
					t.Errorf("page %d: %s?%s, want %s?limit=1", i, r.Path, r.Query.Encode(), tt.wantPath)
				}
			}
		})
	}
}
