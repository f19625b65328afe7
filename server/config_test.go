package server

import (
	"reflect"
	"testing"
	"time"

	"github.com/c1mhq/c1m/codec"
	"github.com/c1mhq/c1m/poller"
)

// TestWithDefaults: defaults fill a copy, limits past what a connection can
// track are lowered, and the caller's struct, slices and map stay its own.
func TestWithDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cfg   *Config
		check func(t *testing.T, got Config)
	}{
		{"nil", nil, func(t *testing.T, got Config) {
			if got.Addr != DefaultAddr || got.Path != DefaultPath || got.MaxFrame != DefaultMaxFrame || got.MaxOutbound != DefaultMaxOutbound {
				t.Fatalf("defaults not filled: %+v", got)
			}
		}},
		{"zero", &Config{}, func(t *testing.T, got Config) {
			if want := (*Config)(nil).withDefaults(); !reflect.DeepEqual(got, want) {
				t.Fatalf("zero Config gives %+v, nil gives %+v", got, want)
			}
		}},
		{"limits wider than 32 bits", &Config{MaxFrame: 1 << 40, MaxMessage: 1 << 62}, func(t *testing.T, got Config) {
			if got.MaxFrame != MaxLimit || got.MaxMessage != MaxLimit {
				t.Fatalf("MaxFrame %d, MaxMessage %d, want both %d", got.MaxFrame, got.MaxMessage, MaxLimit)
			}
		}},
		{"drain spread default", &Config{DrainTimeout: 2 * time.Second}, func(t *testing.T, got Config) {
			if got.DrainSpread != time.Second {
				t.Fatalf("DrainSpread %v, want half of DrainTimeout", got.DrainSpread)
			}
		}},
		{"drain spread off", &Config{DrainSpread: -1}, func(t *testing.T, got Config) {
			if got.DrainSpread != 0 {
				t.Fatalf("DrainSpread %v, want 0", got.DrainSpread)
			}
		}},
		{"drain spread cut", &Config{DrainTimeout: 4 * time.Second, DrainSpread: time.Minute}, func(t *testing.T, got Config) {
			if got.DrainSpread != 2*time.Second {
				t.Fatalf("DrainSpread %v, want half of DrainTimeout", got.DrainSpread)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var before Config
			if tc.cfg != nil {
				before = *tc.cfg
			}
			tc.check(t, tc.cfg.withDefaults())
			if tc.cfg != nil && !reflect.DeepEqual(*tc.cfg, before) {
				t.Fatalf("the caller's Config changed: %+v, was %+v", *tc.cfg, before)
			}
		})
	}
}

// TestWithDefaultsCopies: what the server keeps does not change when the
// caller changes its Config afterwards.
func TestWithDefaultsCopies(t *testing.T) {
	t.Parallel()
	cfg := &Config{
		Pages:          map[string]Page{"/": {Body: []byte("page")}},
		Protocols:      []string{"a"},
		AllowedOrigins: []string{"x.example"},
		Compression:    &codec.DeflateConfig{},
	}
	got := cfg.withDefaults()
	cfg.Pages["/other"] = Page{}
	delete(cfg.Pages, "/")
	cfg.Protocols[0] = "changed"
	cfg.AllowedOrigins[0] = "changed"
	cfg.Compression.Level = 9
	if _, ok := got.Pages["/"]; !ok || len(got.Pages) != 1 {
		t.Fatalf("pages follow the caller's map: %v", got.Pages)
	}
	if got.Protocols[0] != "a" || got.AllowedOrigins[0] != "x.example" || got.Compression.Level == 9 {
		t.Fatalf("the server's copy changed with the caller's: %+v", got)
	}
}

// TestNewNil: New with a nil handler and a nil Config runs the no-op
// handler with every default (TestZeroConfig serves an upgrade with them,
// on a free port rather than the default 8080).
func TestNewNil(t *testing.T) {
	t.Parallel()
	s := New(nil, nil)
	if _, ok := s.handler.(BuiltinHandler); !ok {
		t.Fatalf("handler %T, want BuiltinHandler", s.handler)
	}
	want := (&Config{}).withDefaults()
	want.Pages = map[string]Page{poller.PathClient: {ContentType: poller.ClientContentType, Body: poller.ClientJS}}
	if !reflect.DeepEqual(s.cfg, want) {
		t.Fatalf("config %+v, want the defaults %+v", s.cfg, want)
	}
}
