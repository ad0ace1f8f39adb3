package whatsapp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

func TestVerify(t *testing.T) {
	g := newFakeGraph(t, answer(http.StatusOK, fixture(t, "phone_number.json")))
	acct, err := g.client(Options{}).Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := sb.ProviderAccount{Name: "Lucky Shrub", Details: map[string]string{
		"display_phone_number": "+15550783881", "quality_rating": "GREEN", "phone_number_id": testPhoneID,
	}}
	if !reflect.DeepEqual(acct, want) {
		t.Errorf("account = %+v, want %+v", acct, want)
	}
	c := g.recorded()[0]
	if c.Method != http.MethodGet || c.Path != "/"+DefaultAPIVersion+"/"+testPhoneID {
		t.Errorf("request %s %s", c.Method, c.Path)
	}
	if c.Auth != "Bearer "+testToken {
		t.Errorf("Authorization = %q", c.Auth)
	}
	q, _ := url.ParseQuery(c.Query)
	if q.Get("fields") != "display_phone_number,verified_name,quality_rating" {
		t.Errorf("fields = %q", q.Get("fields"))
	}
}

func TestVerifyFailures(t *testing.T) {
	tests := []struct {
		name    string
		reply   http.HandlerFunc
		refused bool
		inMsg   string
	}{
		{name: "expired token (190, 401)", reply: answer(401, fixture(t, "error_response_190_token_expired.json")), refused: true, inMsg: "Session has expired"},
		{name: "190 on a 400", reply: answer(400, fixture(t, "error_response_graph_generic_shape.json")), refused: true, inMsg: "Message describing the error"},
		{name: "401 without a body", reply: answer(401, nil), refused: true},
		{name: "phone number id the token cannot see (100)", reply: answer(400, fixture(t, "error_response_100_unknown_object.json")), refused: true, inMsg: "does not exist"},
		{name: "rate limited", reply: answer(400, fixture(t, "error_response_130429_rate_limit.json"))},
		{name: "server error", reply: answer(500, fixture(t, "error_response_131000_something_went_wrong.json"))},
		{name: "bad gateway", reply: answer(502, []byte("<html>bad gateway</html>"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, tt.reply)
			_, err := g.client(Options{}).Verify(context.Background())
			if err == nil {
				t.Fatal("Verify succeeded")
			}
			var e *sb.Error
			isRefused := errors.As(err, &e) && e.Code == sb.EREFUSED
			if isRefused != tt.refused {
				t.Fatalf("err = %v, refused = %v, want %v", err, isRefused, tt.refused)
			}
			if tt.refused && !strings.HasPrefix(e.Message, "WhatsApp Cloud refused the credentials: ") {
				t.Errorf("message = %q", e.Message)
			}
			if !strings.Contains(err.Error(), tt.inMsg) {
				t.Errorf("error %q does not contain %q", err, tt.inMsg)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		g := newFakeGraph(t, answer(200, nil))
		c := g.client(Options{})
		g.srv.Close()
		_, err := c.Verify(context.Background())
		if err == nil || sb.ErrorCode(err) == sb.EREFUSED {
			t.Fatalf("err = %v, want a plain error", err)
		}
	})
}

func TestVerifyChallenge(t *testing.T) {
	// The first line of the fixture is Meta's sample handshake request.
	line, _, _ := strings.Cut(string(fixture(t, "webhook_verification_get.txt")), "\n")
	u, err := url.Parse(strings.TrimPrefix(line, "GET "))
	if err != nil {
		t.Fatal(err)
	}
	sample := u.Query()
	with := func(k, v string) url.Values {
		q := url.Values{}
		for key, vs := range sample {
			q[key] = vs
		}
		q.Set(k, v)
		return q
	}
	tests := []struct {
		name      string
		q         url.Values
		token     string
		challenge string
		ok        bool
	}{
		{name: "Meta's sample", q: sample, token: "meatyhamhock", challenge: "1158201444", ok: true},
		{name: "wrong token", q: sample, token: "meatyhamhocks"},
		{name: "token differs in case", q: sample, token: "MeatyHamHock"},
		{name: "wrong mode", q: with("hub.mode", "unsubscribe"), token: "meatyhamhock"},
		{name: "no mode", q: with("hub.mode", ""), token: "meatyhamhock"},
		{name: "no challenge", q: with("hub.challenge", ""), token: "meatyhamhock"},
		{name: "empty configured token never matches", q: with("hub.verify_token", ""), token: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			challenge, ok := VerifyChallenge(tt.q, tt.token)
			if challenge != tt.challenge || ok != tt.ok {
				t.Errorf("VerifyChallenge = %q, %v; want %q, %v", challenge, ok, tt.challenge, tt.ok)
			}
		})
	}
}
