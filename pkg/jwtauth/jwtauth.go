// Package jwtauth authenticates Socket.IO connections with JSON Web Tokens
// (github.com/golang-jwt/jwt/v5): a session middleware that verifies the
// token a client connects with, makes its "sub" claim the socket's user,
// joins the rooms of its "rooms" claim and keeps the claims for handlers.
//
// Entry points: New(Config) returns a *Verifier; Verifier.Middleware is a
// session middleware (Namespace.Use(v.Middleware)); Claims(socket) returns
// the verified claims of a socket. A Verifier may be used concurrently.
//
// The token comes from the CONNECT auth payload {"token": "..."} (the
// socket.io convention io({auth: {token}})), else from the handshake's
// "Authorization: Bearer ..." header. "exp" and "nbf" are enforced when
// present. Any missing, malformed, expired or badly signed token refuses the
// connection with the message "invalid token".
package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sockgate/sockgate/pkg/session"
)

// Config configures a Verifier: at least one of Secret and PublicKey.
type Config struct {
	// Secret verifies HS256 tokens. Default none.
	Secret []byte
	// PublicKey, a PEM public key, verifies tokens signed with its private
	// key: RSA keys RS256, ECDSA P-256 keys ES256, Ed25519 keys EdDSA.
	// Default none.
	PublicKey []byte
	// Leeway is the clock skew allowed on exp and nbf. Default 0.
	Leeway time.Duration
}

// ErrInvalidToken is the error (and connect_error message) of a refused token.
var ErrInvalidToken = errors.New("invalid token")

// Verifier checks tokens. Its methods may be called concurrently.
type Verifier struct {
	secret  []byte
	public  any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	parser  *jwt.Parser
	methods []string

	accepted, rejected atomic.Uint64
}

// Stats is a snapshot of a Verifier's counters.
type Stats struct {
	Accepted uint64 // connections with a valid token
	Rejected uint64 // connections refused for their token
}

// New returns a Verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	v := &Verifier{secret: cfg.Secret}
	if len(cfg.Secret) > 0 {
		v.methods = append(v.methods, jwt.SigningMethodHS256.Alg())
	}
	if len(cfg.PublicKey) > 0 {
		key, alg, err := parsePublicKey(cfg.PublicKey)
		if err != nil {
			return nil, err
		}
		v.public = key
		v.methods = append(v.methods, alg)
	}
	if len(v.methods) == 0 {
		return nil, errors.New("jwtauth: a secret or a public key is required")
	}
	v.parser = jwt.NewParser(jwt.WithValidMethods(v.methods), jwt.WithLeeway(cfg.Leeway))
	return v, nil
}

func parsePublicKey(pem []byte) (any, string, error) {
	if k, err := jwt.ParseRSAPublicKeyFromPEM(pem); err == nil {
		return k, jwt.SigningMethodRS256.Alg(), nil
	}
	if k, err := jwt.ParseECPublicKeyFromPEM(pem); err == nil {
		if k.Curve.Params().Name != "P-256" {
			return nil, "", fmt.Errorf("jwtauth: ECDSA key on %s: only P-256 (ES256) is supported", k.Curve.Params().Name)
		}
		return k, jwt.SigningMethodES256.Alg(), nil
	}
	if k, err := jwt.ParseEdPublicKeyFromPEM(pem); err == nil {
		return k, jwt.SigningMethodEdDSA.Alg(), nil
	}
	return nil, "", errors.New("jwtauth: the public key is not a PEM RSA, ECDSA P-256 or Ed25519 public key")
}

// key picks the verification key of a token's algorithm (the parser has
// already refused algorithms outside v.methods).
func (v *Verifier) key(t *jwt.Token) (any, error) {
	switch t.Method.(type) {
	case *jwt.SigningMethodHMAC:
		if len(v.secret) > 0 {
			return v.secret, nil
		}
	case *jwt.SigningMethodRSA:
		if k, ok := v.public.(*rsa.PublicKey); ok {
			return k, nil
		}
	case *jwt.SigningMethodECDSA:
		if k, ok := v.public.(*ecdsa.PublicKey); ok {
			return k, nil
		}
	case *jwt.SigningMethodEd25519:
		if k, ok := v.public.(ed25519.PublicKey); ok {
			return k, nil
		}
	}
	return nil, fmt.Errorf("jwtauth: no key for %s", t.Method.Alg())
}

// Verify checks a token and returns its claims.
func (v *Verifier) Verify(token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.key); err != nil {
		return nil, fmt.Errorf("jwtauth: %w", err)
	}
	if _, err := roomsClaim(claims); err != nil {
		return nil, err
	}
	if sub, ok := claims["sub"]; ok {
		if _, isString := sub.(string); !isString {
			return nil, errors.New("jwtauth: the sub claim is not a string")
		}
	}
	return claims, nil
}

// roomsClaim reads the optional "rooms" claim, an array of strings.
func roomsClaim(claims jwt.MapClaims) ([]string, error) {
	raw, ok := claims["rooms"]
	if !ok {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, errors.New("jwtauth: the rooms claim is not an array")
	}
	rooms := make([]string, 0, len(list))
	for _, r := range list {
		s, ok := r.(string)
		if !ok || s == "" {
			return nil, errors.New("jwtauth: the rooms claim holds something else than room names")
		}
		rooms = append(rooms, s)
	}
	return rooms, nil
}

type claimsKey struct{}

// Middleware is a session middleware: it verifies the socket's token and
// refuses the connection with "invalid token" (ErrInvalidToken) when it is
// missing or not valid. A valid token's "sub" becomes the socket's user
// (Socket.User), its "rooms" are joined at connect, and its claims are kept
// for Claims.
func (v *Verifier) Middleware(s *session.Socket) error {
	hs := s.Handshake()
	claims, err := v.Verify(Token(hs))
	if err != nil {
		v.rejected.Add(1)
		return ErrInvalidToken
	}
	v.accepted.Add(1)
	if sub, ok := claims["sub"].(string); ok {
		s.SetUser(sub)
	}
	rooms, _ := roomsClaim(claims)
	if len(rooms) > 0 {
		s.Join(rooms...)
	}
	s.SetValue(claimsKey{}, claims)
	return nil
}

// Claims returns the verified claims of a socket that passed Middleware,
// or nil.
func Claims(s *session.Socket) jwt.MapClaims {
	c, _ := s.Value(claimsKey{}).(jwt.MapClaims)
	return c
}

// Token returns the token of a handshake: the auth payload's "token" field,
// else the bearer token of its Authorization header ("" if neither).
func Token(hs session.Handshake) string {
	var auth struct {
		Token string `json:"token"`
	}
	if len(hs.Auth) > 0 && json.Unmarshal(hs.Auth, &auth) == nil && auth.Token != "" {
		return auth.Token
	}
	h := hs.Header.Get("Authorization")
	if scheme, token, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	return ""
}

// Stats returns a snapshot of the Verifier's counters.
func (v *Verifier) Stats() Stats {
	return Stats{Accepted: v.accepted.Load(), Rejected: v.rejected.Load()}
}
