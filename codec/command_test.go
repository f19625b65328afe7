package codec

import "testing"

// TestParseCommandKeys: a command's keys are op, topic, id and data, spelt
// exactly so (after JSON unescaping), each at most once; anything else is a
// bad command, so that a filtering proxy that reads the JSON as any
// case-sensitive parser does sees what c1m acts on.
func TestParseCommandKeys(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"exact keys", `{"op":"publish","topic":"t","data":"x","id":1}`, true},
		{"any order", `{"id":1,"data":"x","topic":"t","op":"publish"}`, true},
		{"escaped key", `{"\u006fp":"subscribe","topic":"t"}`, true},
		{"whitespace", " {\n\"op\" : \"subscribe\" ,\t\"topic\":\"t\" } \r\n", true},
		{"upper-case key", `{"OP":"subscribe","topic":"t"}`, false},
		{"mixed-case key", `{"op":"subscribe","topiC":"t"}`, false},
		{"mixed-case data", `{"op":"publish","topic":"t","dAtA":"x"}`, false},
		{"case-folded duplicate", `{"op":"subscribe","topic":"t","Topic":"u"}`, false},
		{"duplicate op", `{"op":"drop","op":"subscribe","topic":"t"}`, false},
		{"duplicate topic", `{"op":"subscribe","topic":"t","topic":"u"}`, false},
		{"duplicate id", `{"op":"subscribe","topic":"t","id":1,"id":2}`, false},
		{"unknown key", `{"op":"subscribe","topic":"t","extra":true}`, false},
		{"two objects", `{"op":"subscribe","topic":"t"}{}`, false},
		{"trailing garbage", `{"op":"subscribe","topic":"t"}x`, false},
		{"array", `[{"op":"subscribe","topic":"t"}]`, false},
		{"op not a string", `{"op":1,"topic":"t"}`, false},
		{"missing comma", `{"op":"subscribe" "topic":"t"}`, false},
		{"refresh", `{"op":"refresh","token":"a.b.c","id":1}`, true},
		{"refresh without a token", `{"op":"refresh","id":1}`, false},
		{"refresh with an empty token", `{"op":"refresh","token":""}`, false},
		{"refresh with a topic", `{"op":"refresh","token":"a.b.c","topic":"t"}`, false},
		{"refresh with data", `{"op":"refresh","token":"a.b.c","data":1}`, false},
		{"subscribe with a token", `{"op":"subscribe","topic":"t","token":"a.b.c"}`, true},
		{"publish with a token", `{"op":"publish","topic":"t","data":1,"token":"a.b.c"}`, false},
		{"token not a string", `{"op":"refresh","token":1}`, false},
		{"mixed-case token", `{"op":"refresh","Token":"a.b.c"}`, false},
	}
	for _, tc := range cases {
		_, err := ParseCommand([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("%s: %s: err %v, want accepted=%v", tc.name, tc.in, err, tc.ok)
		}
		if err != nil && err != ErrBadCommand {
			t.Errorf("%s: err %v, want ErrBadCommand", tc.name, err)
		}
	}
}
