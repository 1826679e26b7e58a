package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sockgate/sockgate/pkg/session"
)

func publicPEM(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	secret := []byte("s3cret")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	future := time.Now().Add(time.Hour).Unix()
	past := time.Now().Add(-time.Hour).Unix()
	good := jwt.MapClaims{"sub": "42", "exp": future, "rooms": []string{"user:42"}}

	hs, err := New(Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := New(Config{PublicKey: publicPEM(t, &rsaKey.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	es, err := New(Config{PublicKey: publicPEM(t, &ecKey.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	ed, err := New(Config{PublicKey: publicPEM(t, edPub)})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		v     *Verifier
		token string
		ok    bool
	}{
		{"HS256", hs, sign(t, jwt.SigningMethodHS256, secret, good), true},
		{"HS256 expired", hs, sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "1", "exp": past}), false},
		{"HS256 not yet valid", hs, sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"nbf": future}), false},
		{"HS256 bad signature", hs, sign(t, jwt.SigningMethodHS256, []byte("other"), good), false},
		{"HS384 refused", hs, sign(t, jwt.SigningMethodHS384, secret, good), false},
		{"alg none refused", hs, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good), false},
		{"garbage", hs, "not.a.token", false},
		{"empty", hs, "", false},
		{"rooms not strings", hs, sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"rooms": []int{1}}), false},
		{"sub not a string", hs, sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": 42}), false},
		{"RS256", rs, sign(t, jwt.SigningMethodRS256, rsaKey, good), true},
		{"RS256 other key", rs, sign(t, jwt.SigningMethodRS256, otherRSA, good), false},
		{"RS256 verifier refuses HS256 signed with the public key", rs, sign(t, jwt.SigningMethodHS256, publicPEM(t, &rsaKey.PublicKey), good), false},
		{"ES256", es, sign(t, jwt.SigningMethodES256, ecKey, good), true},
		{"EdDSA", ed, sign(t, jwt.SigningMethodEdDSA, edKey, good), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := tt.v.Verify(tt.token)
			if (err == nil) != tt.ok {
				t.Fatalf("Verify: err %v, want ok %v", err, tt.ok)
			}
			if tt.ok && claims["sub"] != "42" {
				t.Errorf("sub = %v", claims["sub"])
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for name, cfg := range map[string]Config{
		"nothing":   {},
		"not a key": {PublicKey: []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")},
		"P-384":     {PublicKey: publicPEM(t, &p256.PublicKey)},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestToken(t *testing.T) {
	header := func(v string) http.Header { return http.Header{"Authorization": {v}} }
	tests := []struct {
		name string
		hs   session.Handshake
		want string
	}{
		{"auth payload", session.Handshake{Auth: json.RawMessage(`{"token":"a"}`), Header: header("Bearer b")}, "a"},
		{"bearer header", session.Handshake{Header: header("Bearer b")}, "b"},
		{"lowercase scheme", session.Handshake{Header: header("bearer c")}, "c"},
		{"basic auth", session.Handshake{Header: header("Basic d")}, ""},
		{"auth not an object", session.Handshake{Auth: json.RawMessage(`"x"`)}, ""},
		{"nothing", session.Handshake{}, ""},
	}
	for _, tt := range tests {
		if got := Token(tt.hs); got != tt.want {
			t.Errorf("%s: Token = %q, want %q", tt.name, got, tt.want)
		}
	}
}
