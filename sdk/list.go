package sdk

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"
)

// listPage is the API's list envelope.
type listPage[T any] struct {
	Data       []*T    `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

// dataEnvelope is the {"data": [...]} wrapper of unpaginated lists.
type dataEnvelope[T any] struct {
	Data []T `json:"data"`
}

// paginate iterates over every item of a cursor-paginated list, fetching
// the next page only when the caller has consumed the current one. An
// error is yielded once, with a nil item, and ends the iteration. Breaking
// out of the loop stops fetching; no goroutine is left behind.
func paginate[T any](ctx context.Context, c *Client, path string, query url.Values) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		cursor := ""
		for {
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var page listPage[T]
			if err := c.do(ctx, request{method: "GET", path: path, query: q}, &page); err != nil {
				yield(nil, err)
				return
			}
			for _, item := range page.Data {
				if !yield(item, nil) {
					return
				}
			}
			if !page.HasMore || page.NextCursor == nil || *page.NextCursor == "" {
				return
			}
			if *page.NextCursor == cursor {
				// A server bug would otherwise loop forever.
				yield(nil, fmt.Errorf("switchboard: GET %s: next_cursor %q repeats the current cursor", path, cursor))
				return
			}
			cursor = *page.NextCursor
		}
	}
}

// setLimit adds the page-size parameter when set.
func setLimit(q url.Values, limit int) {
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
}
