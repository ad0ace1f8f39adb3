package sdk

import (
	"context"
	"iter"
	"net/url"
	"time"
)

// OptOutSource says how an address opted out.
type OptOutSource string

// Opt-out sources.
const (
	OptOutKeyword  OptOutSource = "keyword"  // an inbound opt-out keyword (Settings.OptOutKeywords)
	OptOutAPI      OptOutSource = "api"      // OptOuts.Create
	OptOutProvider OptOutSource = "provider" // the provider reported it
)

// OptOut records that an address asked not to be messaged. Sends to it
// fail with a 422 *Error whose Code() is ProblemOptedOut.
type OptOut struct {
	Channel    Channel      `json:"channel"`
	Address    string       `json:"address"`
	CustomerID *string      `json:"customer_id"`
	Source     OptOutSource `json:"source"`
	// Keyword is the keyword that opted the address out (Source keyword).
	Keyword   *string   `json:"keyword"`
	CreatedAt time.Time `json:"created_at"`
}

// ListOptOutsParams filters OptOuts.List. Zero fields are not sent.
type ListOptOutsParams struct {
	// Limit is the page size, not a cap on the total.
	Limit   int
	Channel Channel
}

// OptOutsService manages opt-outs. Get it from Client.OptOuts.
type OptOutsService struct{ c *Client }

// List iterates over opt-outs, newest first, following next_cursor. A nil
// params lists everything.
func (s *OptOutsService) List(ctx context.Context, params *ListOptOutsParams) iter.Seq2[*OptOut, error] {
	q := url.Values{}
	if params != nil {
		setLimit(q, params.Limit)
		if params.Channel != "" {
			q.Set("channel", string(params.Channel))
		}
	}
	return paginate[OptOut](ctx, s.c, "/v1/opt-outs", q)
}

// Create opts an address out (Source "api"). Opting out an address that
// already is opted out returns the existing opt-out, so Create is retried
// like a read.
func (s *OptOutsService) Create(ctx context.Context, identity IdentityRef) (*OptOut, error) {
	var out OptOut
	req := request{method: "POST", path: "/v1/opt-outs", body: identity, idempotent: true}
	if err := s.c.do(ctx, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Delete opts an address back in. It fails with a 404 *Error when the
// address is not opted out.
func (s *OptOutsService) Delete(ctx context.Context, identity IdentityRef) error {
	q := url.Values{"identity": {identity.String()}}
	return s.c.do(ctx, request{method: "DELETE", path: "/v1/opt-outs", query: q}, nil)
}
