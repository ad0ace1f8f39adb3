package twiliotest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// Verb is one TwiML element: a verb of a <Response> (Say, Gather, Dial…)
// or a noun nested in one (a Say inside a Gather, a Number inside a Dial).
type Verb struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []Verb     `xml:",any"`
}

// Attr returns the value of attribute name, "" when absent.
func (v Verb) Attr(name string) string {
	a, _ := v.lookup(name)
	return a
}

// HasAttr reports whether the attribute is present, empty or not
// (finishOnKey="" means "no finish key", unlike no attribute).
func (v Verb) HasAttr(name string) bool {
	_, ok := v.lookup(name)
	return ok
}

func (v Verb) lookup(name string) (string, bool) {
	for _, a := range v.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// ParseTwiML reads a TwiML document and returns the verbs of its
// <Response>, in order. As Twilio, it refuses a document that is not
// well-formed XML or whose root is not <Response>.
func ParseTwiML(doc []byte) ([]Verb, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, errors.New("empty TwiML document")
	}
	var root Verb
	d := xml.NewDecoder(bytes.NewReader(doc))
	if err := d.Decode(&root); err != nil {
		return nil, fmt.Errorf("TwiML is not well-formed XML: %w", err)
	}
	if root.XMLName.Local != "Response" {
		return nil, fmt.Errorf("TwiML root is <%s>, not <Response>", root.XMLName.Local)
	}
	// Nothing but whitespace or comments may follow the root.
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("TwiML is not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("TwiML has text after </Response>")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return nil, errors.New("TwiML has content after </Response>")
		}
	}
	return root.Children, nil
}
