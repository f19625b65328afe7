package auth_test

import (
	"testing"

	"github.com/c1mhq/c1m/auth"
)

func TestPolicy(t *testing.T) {
	t.Parallel()
	ann := &auth.Claims{Topics: []string{"news", "private:ann*"}, Publish: []string{"chat:*"}}
	ann.Subject = "ann"
	bob := &auth.Claims{}
	bob.Subject = "bob"
	custom := &auth.Policy{Protected: []string{"secret/"}, UserPrefix: "-"}
	cases := []struct {
		name     string
		p        *auth.Policy
		c        *auth.Claims
		topic    string
		sub, pub bool
	}{
		{"anonymous, public", &auth.Policy{}, nil, "news", true, true},
		{"anonymous, private", &auth.Policy{}, nil, "private:x", false, false},
		{"anonymous, user topic", &auth.Policy{}, nil, "user:ann:inbox", false, false},
		{"claim lists it", &auth.Policy{}, ann, "news", true, false},
		{"topic outside the claim", &auth.Policy{}, ann, "sports", false, false},
		{"private by prefix claim", &auth.Policy{}, ann, "private:ann:1", true, false},
		{"private outside the claim", &auth.Policy{}, ann, "private:bob", false, false},
		{"publish claim", &auth.Policy{}, ann, "chat:room", false, true},
		{"own user topic", &auth.Policy{}, ann, "user:ann:inbox", true, true},
		{"own user topic, bare", &auth.Policy{}, ann, "user:ann", true, true},
		{"another's user topic", &auth.Policy{}, ann, "user:bob:inbox", false, false},
		{"user prefix is not a substring match", &auth.Policy{}, ann, "user:anna:inbox", false, false},
		{"no claims lists: public", &auth.Policy{}, bob, "sports", true, true},
		{"no claims lists: private", &auth.Policy{}, bob, "private:bob", false, false},
		{"custom protected", custom, bob, "secret/x", false, false},
		{"custom: private: is public", custom, bob, "private:x", true, true},
		{"custom: user prefix off", custom, bob, "user:ann:inbox", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.p.CanSubscribe(tc.c, tc.topic); got != tc.sub {
				t.Errorf("CanSubscribe(%q) = %v, want %v", tc.topic, got, tc.sub)
			}
			if got := tc.p.CanPublish(tc.c, tc.topic); got != tc.pub {
				t.Errorf("CanPublish(%q) = %v, want %v", tc.topic, got, tc.pub)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		patterns []string
		topic    string
		want     bool
	}{
		{[]string{"a"}, "a", true},
		{[]string{"a"}, "ab", false},
		{[]string{"a*"}, "ab", true},
		{[]string{"a*"}, "a", true},
		{[]string{"*"}, "anything", true},
		{nil, "a", false},
		{[]string{"b", "c:*"}, "c:d", true},
	} {
		if got := auth.Match(tc.patterns, tc.topic); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.patterns, tc.topic, got, tc.want)
		}
	}
}
