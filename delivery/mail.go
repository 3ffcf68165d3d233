package delivery

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// MailConfig is the e-mail delivery of SPEC 16.
type MailConfig struct {
	To   []string // AUDIT_MAIL_TO
	From string   // AUDIT_MAIL_FROM
	// SMTPURL is AUDIT_SMTP_URL: smtp://[user@]host[:port] (STARTTLS
	// required, except to loopback), smtps://[user@]host[:port] (implicit TLS).
	SMTPURL  string
	Password string // AUDIT_SMTP_PASSWORD(_FILE)
	// MaxBytes caps the attachments together (AUDIT_MAIL_MAX_MB).
	MaxBytes int64
	Timeout  time.Duration // default 60s
}

// smtpTarget is a parsed AUDIT_SMTP_URL.
type smtpTarget struct {
	host     string
	port     int
	implicit bool // smtps://
	user     string
	loopback bool
}

// Validate checks the configuration without connecting; every problem
// names its variable.
func (c MailConfig) Validate() error {
	var errs []error
	if len(c.To) == 0 {
		return nil
	}
	for _, a := range c.To {
		if !strings.Contains(a, "@") {
			errs = append(errs, fmt.Errorf("AUDIT_MAIL_TO: %q is not an e-mail address", a))
		}
	}
	if c.From == "" {
		errs = append(errs, errors.New("AUDIT_MAIL_FROM: required with AUDIT_MAIL_TO"))
	} else if !strings.Contains(c.From, "@") {
		errs = append(errs, fmt.Errorf("AUDIT_MAIL_FROM: %q is not an e-mail address", c.From))
	}
	if c.SMTPURL == "" {
		errs = append(errs, errors.New("AUDIT_SMTP_URL: required with AUDIT_MAIL_TO (smtp://user@host:587 or smtps://user@host:465)"))
	} else if _, err := parseSMTPURL(c.SMTPURL); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func parseSMTPURL(s string) (smtpTarget, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return smtpTarget{}, errors.New("AUDIT_SMTP_URL: not smtp://[user@]host[:port] or smtps://[user@]host[:port]")
	}
	if _, has := u.User.Password(); has {
		return smtpTarget{}, errors.New("AUDIT_SMTP_URL: holds a password: put it in AUDIT_SMTP_PASSWORD or AUDIT_SMTP_PASSWORD_FILE")
	}
	t := smtpTarget{host: u.Hostname(), implicit: u.Scheme == "smtps", user: u.User.Username(), loopback: isLoopback(u.Hostname())}
	t.port = 587
	if t.implicit {
		t.port = 465
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return smtpTarget{}, fmt.Errorf("AUDIT_SMTP_URL: port %q is not a port number", p)
		}
		t.port = n
	}
	return t, nil
}

// Message is what the run says by mail: built by the caller from the
// summary, never holding the user list.
type Message struct {
	Subject string
	Text    string        // plain-text body
	HTML    template.HTML // HTML body (a summary, not the report)
	// Attach are files to attach while they fit under MailConfig.MaxBytes
	// together; the ones that do not fit are named in the body instead,
	// with Where (their path or URL).
	Attach []Attachment
}

// Attachment is one file offered for the message.
type Attachment struct {
	Path  string // local file
	Where string // where a reader finds it when it is not attached
}

// Send builds the message and sends it. It returns the names of the files
// attached.
func Send(ctx context.Context, c MailConfig, m Message) ([]string, error) {
	t, err := parseSMTPURL(c.SMTPURL)
	if err != nil {
		return nil, err
	}
	msg := mail.NewMsg()
	if err := msg.From(c.From); err != nil {
		return nil, fmt.Errorf("AUDIT_MAIL_FROM: %w", err)
	}
	if err := msg.To(c.To...); err != nil {
		return nil, fmt.Errorf("AUDIT_MAIL_TO: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	var attached, notes []string
	var total int64
	for _, a := range m.Attach {
		size := readFileSize(a.Path)
		if size < 0 {
			continue
		}
		if c.MaxBytes > 0 && total+size > c.MaxBytes {
			notes = append(notes, fmt.Sprintf("%s (%.1f MB) is not attached: over AUDIT_MAIL_MAX_MB together with the others; it is at %s",
				filepath.Base(a.Path), float64(size)/1e6, a.Where))
			continue
		}
		total += size
		msg.AttachFile(a.Path, mail.WithFileName(filepath.Base(a.Path)))
		attached = append(attached, filepath.Base(a.Path))
	}
	text, html := m.Text, string(m.HTML)
	if len(notes) > 0 {
		text += "\n" + strings.Join(notes, "\n") + "\n"
		var b strings.Builder
		b.WriteString(html)
		b.WriteString("<ul>")
		for _, n := range notes {
			b.WriteString("<li>" + template.HTMLEscapeString(n) + "</li>")
		}
		b.WriteString("</ul>")
		html = b.String()
	}
	msg.SetBodyString(mail.TypeTextPlain, text)
	if html != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, html)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	opts := []mail.Option{mail.WithPort(t.port), mail.WithTimeout(timeout), mail.WithHELO("mfa-audit")}
	switch {
	case t.implicit:
		opts = append(opts, mail.WithSSL())
	case t.loopback:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if t.user != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(t.user), mail.WithPassword(c.Password))
	}
	client, err := mail.NewClient(t.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("AUDIT_SMTP_URL: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return nil, fmt.Errorf("sending the report mail through %s:%d: %w", t.host, t.port, err)
	}
	return attached, nil
}
