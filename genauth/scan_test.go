package genauth

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzScanAgreesWithEncodingJSON: whenever the fast scanner decides, it
// decides what encoding/json decides; when encoding/json rejects a body,
// the scanner never accepts it.
func FuzzScanAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200,"message":"Success","requestId":"r-1","data":{"totpStatus":"enabled","faceMfaStatus":false,"smsMfaStatus":null}}`,
		` { "statusCode" : "429" , "message":"您的请求已超过最大数量限制，请稍后重试" } `,
		`{"StatusCode":200}`, `{"statusCode":200,"statusCode":404}`, `{"data":[1,2,{"a":[]}],"apiCode":"2004"}`,
		`{"message":"a\"b","data":{}}`, `{"k\u0065y":1}`, `{"statusCode":-1.5e+3}`, `{"statusCode":01}`, `{}`, `[]`, `{"a":tru}`,
		`{"statusCode":200,}`, "{\"message\":\"\x01\"}", `{"s":"\ud800"}`, `{"ſtatusCode":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast rawEnvelope
		fastOK := fast.scan(b)
		var slow rawEnvelope
		slowErr := json.Unmarshal(b, &slow)
		if !fastOK {
			return
		}
		if slowErr != nil {
			t.Fatalf("scanner accepted %q, encoding/json says %v", b, slowErr)
		}
		pairs := [][2]json.RawMessage{{fast.StatusCode, slow.StatusCode}, {fast.Message, slow.Message},
			{fast.APICode, slow.APICode}, {fast.RequestID, slow.RequestID}, {fast.Data, slow.Data}}
		for i, p := range pairs {
			if !bytes.Equal(p[0], p[1]) {
				t.Fatalf("member %d of %q: scanner %q, encoding/json %q", i, b, p[0], p[1])
			}
		}
		// The same holds for the MFA data member and for plain strings.
		if info1, err1 := decodeMFA(fast.Data); err1 == nil {
			var d mfaData
			if json.Unmarshal(fast.Data, &d) != nil {
				t.Fatalf("data %q decoded by the scanner only", fast.Data)
			}
			_ = info1
		}
		if s, ok := plainString(bytes.TrimSpace(fast.Message)); ok {
			var want string
			if json.Unmarshal(fast.Message, &want) != nil || want != s {
				t.Fatalf("plainString(%q) = %q, encoding/json %q", fast.Message, s, want)
			}
		}
	})
}

func BenchmarkDecodeMFAAnswer(b *testing.B) {
	body := []byte(`{"statusCode":200,"message":"Success","requestId":"0b8a2c3e-5d1f-4c1a-9e7b-2f6d8a1c3b5e","data":{"totpStatus":"enabled","faceMfaStatus":"disabled","smsMfaStatus":"enabled","emailMfaStatus":"disabled"}}`)
	b.ReportAllocs()
	for b.Loop() {
		env, err := decodeEnvelope(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := decodeMFA(env.Data); err != nil {
			b.Fatal(err)
		}
	}
}
