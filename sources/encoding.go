package sources

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// textEncoding is how the bytes of a text source become UTF-8: the
// encoding named by AUDIT_SOURCE_ENCODING, or the one a byte order mark
// announces.
type textEncoding struct {
	name    string            // canonical name: utf-8, windows-1252, utf-16le ...
	enc     encoding.Encoding // nil for UTF-8: the bytes are used as they are
	bom     int               // bytes of byte order mark to skip
	fromBOM bool              // chosen by the byte order mark, not the variable
}

// String is the encoding as the start log line shows it: "utf-8",
// "windows-1252", "utf-16le (byte order mark)".
func (e textEncoding) String() string {
	if e.fromBOM {
		return e.name + " (byte order mark)"
	}
	return e.name
}

// LookupEncoding checks an AUDIT_SOURCE_ENCODING value: a WHATWG or IANA
// name known to golang.org/x/text ("utf-8", "windows-1252", "latin1",
// "gb18030", "shift_jis", "utf-16le" ...). Empty means utf-8. It returns the
// canonical name.
func LookupEncoding(name string) (string, error) {
	e, err := lookupEncoding(name)
	return e.name, err
}

func lookupEncoding(name string) (textEncoding, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "", "utf-8", "utf8":
		return textEncoding{name: "utf-8"}, nil
	case "replacement", "x-user-defined":
		return textEncoding{}, fmt.Errorf("AUDIT_SOURCE_ENCODING %q is not a text encoding for a CSV file (e.g. utf-8, windows-1252, gb18030, shift_jis, utf-16le)", name)
	}
	e, err := htmlindex.Get(n)
	if err != nil || e == nil {
		if e, err = ianaindex.IANA.Encoding(n); err != nil || e == nil {
			return textEncoding{}, fmt.Errorf("AUDIT_SOURCE_ENCODING %q: unknown encoding (e.g. utf-8, windows-1252, iso-8859-15, gb18030, big5, shift_jis, euc-kr, utf-16le)", name)
		}
	}
	canon, err := htmlindex.Name(e)
	if err != nil {
		if canon, err = ianaindex.IANA.Name(e); err != nil {
			canon = n
		}
	}
	canon = strings.ToLower(canon)
	if canon == "utf-8" {
		return textEncoding{name: canon}, nil
	}
	return textEncoding{name: canon, enc: e}, nil
}

// chooseEncoding returns the encoding of a text that starts with head: the
// one its byte order mark names (UTF-8, UTF-16LE, UTF-16BE), else want.
func chooseEncoding(head []byte, want textEncoding) textEncoding {
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		return textEncoding{name: "utf-8", bom: 3, fromBOM: want.name != "utf-8"}
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		return textEncoding{name: "utf-16le", bom: 2, fromBOM: true,
			enc: unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)}
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return textEncoding{name: "utf-16be", bom: 2, fromBOM: true,
			enc: unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)}
	}
	return want
}

// reader returns r (past the byte order mark) decoded to UTF-8.
func (e textEncoding) reader(r io.Reader) io.Reader {
	if e.enc == nil {
		return r
	}
	return transform.NewReader(r, e.enc.NewDecoder())
}

// valid reports whether s, a text this encoding produced, held only bytes
// valid in the encoding: UTF-8 is checked as such; a decoder puts U+FFFD in
// place of what it cannot decode.
func (e textEncoding) valid(s string) bool {
	if e.enc == nil {
		return utf8.ValidString(s)
	}
	return !strings.ContainsRune(s, utf8.RuneError)
}

func (e textEncoding) validBytes(b []byte) bool {
	if e.enc == nil {
		return utf8.Valid(b)
	}
	return !bytes.ContainsRune(b, utf8.RuneError)
}

// EncodingError is a line of a source holding bytes that are not valid in
// its encoding (SPEC section 4): a configuration error (exit 2), found by
// the pre-scan of a file before any API call, or while reading stdin.
type EncodingError struct {
	Source   string // path or "stdin"
	Line     int
	Encoding textEncoding
	explicit bool // AUDIT_SOURCE_ENCODING was set
}

func (e *EncodingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s line %d: bytes that are not valid %s", e.Source, e.Line, e.Encoding.name)
	switch {
	case e.Encoding.fromBOM:
		fmt.Fprintf(&b, " (the file starts with a %s byte order mark, which wins over AUDIT_SOURCE_ENCODING)", e.Encoding.name)
	case e.explicit && e.Encoding.name != "utf-8":
		fmt.Fprintf(&b, " (AUDIT_SOURCE_ENCODING=%s)", e.Encoding.name)
	default:
		b.WriteString(" (AUDIT_SOURCE_ENCODING=utf-8, the default)")
	}
	b.WriteString(": set AUDIT_SOURCE_ENCODING to the file's encoding (e.g. windows-1252 for Excel on Western Windows, gb18030 for Chinese Windows) or save the file as CSV UTF-8")
	return b.String()
}

// notText looks at the first bytes of a file meant to be CSV text and, when
// they are something else, says what (with the fix); "" when they may be
// text. enc is the encoding the file will be read with.
func notText(head []byte, enc textEncoding) string {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "it is a ZIP archive, probably an .xlsx workbook named like a CSV file: give it its .xlsx name (AUDIT_SOURCE=FILE.xlsx, or FILE.xlsx#Sheet) or export it as CSV"
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		return "it is an old-style Office file (.xls): save it as .xlsx or as CSV UTF-8"
	case bytes.HasPrefix(head, []byte("%PDF")):
		return "it is a PDF document"
	case bytes.HasPrefix(head, []byte{0x1F, 0x8B}):
		return "it is gzip-compressed: decompress it first"
	}
	if strings.HasPrefix(enc.name, "utf-16") || bytes.IndexByte(head, 0) < 0 {
		return ""
	}
	if n := len(head) &^ 1; n >= 4 {
		var even, odd int // NUL bytes at even and odd offsets
		for i := 0; i < n; i++ {
			if head[i] == 0 {
				if i%2 == 0 {
					even++
				} else {
					odd++
				}
			}
		}
		switch {
		case odd*4 >= n && odd > 4*even:
			return "it looks like UTF-16 (little-endian) without a byte order mark: set AUDIT_SOURCE_ENCODING=utf-16le, or save the file as CSV UTF-8"
		case even*4 >= n && even > 4*odd:
			return "it looks like UTF-16 (big-endian) without a byte order mark: set AUDIT_SOURCE_ENCODING=utf-16be, or save the file as CSV UTF-8"
		}
	}
	return "binary data (NUL bytes)"
}
