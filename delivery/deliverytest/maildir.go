// Package deliverytest reads back what the delivery tests sent: the
// messages an SMTP server kept in a Maildir (aiosmtpd's Mailbox handler, as
// .ci/delivery-servers starts it).
package deliverytest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
)

// Mail is one received message, decoded.
type Mail struct {
	Header      mail.Header
	Subject     string            // RFC 2047 decoded
	Text        string            // the first text/plain part
	Attachments map[string][]byte // by file name, transfer encoding undone
}

// Find returns the first message in maildir (its new/ and cur/) that match
// accepts, decoded; an error when there is none.
func Find(maildir string, match func(*Mail) bool) (*Mail, error) {
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(maildir, sub))
		for _, e := range entries {
			raw, err := os.ReadFile(filepath.Join(maildir, sub, e.Name()))
			if err != nil {
				continue
			}
			m, err := Parse(raw)
			if err == nil && match(m) {
				return m, nil
			}
		}
	}
	return nil, fmt.Errorf("no matching message in %s", maildir)
}

// Parse decodes one message: subject, plain body and attachments.
func Parse(raw []byte) (*Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	m := &Mail{Header: msg.Header, Subject: subj, Attachments: map[string][]byte{}}
	if err := m.walk(msg.Header.Get("Content-Type"), msg.Body); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Mail) walk(ctype string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ctype, err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, err := io.ReadAll(body)
		if mt == "text/plain" && m.Text == "" {
			m.Text = string(b)
		}
		return err
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var r io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			r = base64.NewDecoder(base64.StdEncoding, p)
		}
		if name := p.FileName(); name != "" {
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			m.Attachments[name] = b
			continue
		}
		if err := m.walk(p.Header.Get("Content-Type"), r); err != nil {
			return err
		}
	}
}
