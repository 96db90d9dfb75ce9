package api

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/inbond/inbond/event"
	"golang.org/x/time/rate"
)

// Role kinds. A carrier's role also names its SCAC.
const (
	roleCBP     = "cbp"     // CBP officers: everything
	roleDOE     = "doe"     // DOE/EIA analysts: reports and aggregates only
	roleCarrier = "carrier" // a carrier: only its own shipments, devices and alerts
)

// Identity is who a request's token belongs to.
type Identity struct {
	Kind string
	// SCAC is a carrier's code; empty for the other roles.
	SCAC event.CarrierID
	// Name is who acts, recorded in alert commands' audit trail: the name
	// given beside the token, or its role.
	Name string
	key  [sha256.Size]byte // the token's hash: the rate limit's key
}

// Role is the identity's role as written: cbp, doe or carrier:SCAC.
func (id Identity) Role() string {
	if id.Kind == roleCarrier {
		return roleCarrier + ":" + string(id.SCAC)
	}
	return id.Kind
}

// parseRole reads a role as written in a token file or INBOND_API_TOKENS.
func parseRole(s string) (Identity, error) {
	switch {
	case s == roleCBP || s == roleDOE:
		return Identity{Kind: s}, nil
	case strings.HasPrefix(s, roleCarrier+":"):
		scac := event.CarrierID(strings.TrimPrefix(s, roleCarrier+":"))
		if err := scac.Validate("role"); err != nil {
			return Identity{}, fmt.Errorf("role %q: %w", s, err)
		}
		return Identity{Kind: roleCarrier, SCAC: scac}, nil
	}
	return Identity{}, fmt.Errorf("role %q: want cbp, doe or carrier:SCAC", s)
}

// tokens maps token hashes to identities. Only hashes are kept: a memory
// dump or the file leaks no usable token.
type tokens struct {
	byHash map[[sha256.Size]byte]Identity
}

func hashToken(tok string) [sha256.Size]byte { return sha256.Sum256([]byte(tok)) }

// lookup finds a token's identity. The map lookup is on a hash of the
// token, so its timing tells nothing about any valid token's bytes; the
// final compare is constant-time anyway.
func (t *tokens) lookup(tok string) (Identity, bool) {
	h := hashToken(tok)
	id, ok := t.byHash[h]
	if !ok || subtle.ConstantTimeCompare(id.key[:], h[:]) != 1 {
		return Identity{}, false
	}
	return id, true
}

// loadTokens reads the token file (creating it with one new cbp token when
// it does not exist) and adds the plain "role=token" entries.
func loadTokens(file string, plain []string, out io.Writer) (*tokens, error) {
	t := &tokens{byHash: map[[sha256.Size]byte]Identity{}}
	if file != "" {
		if err := t.readFile(file, out); err != nil {
			return nil, err
		}
	}
	for _, p := range plain {
		role, tok, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || tok == "" {
			return nil, fmt.Errorf("api: token %q: want role=token", redactToken(p))
		}
		id, err := parseRole(role)
		if err != nil {
			return nil, fmt.Errorf("api: tokens: %w", err)
		}
		id.Name, id.key = id.Role(), hashToken(tok)
		t.byHash[id.key] = id
	}
	if len(t.byHash) == 0 {
		return nil, errors.New("api: no tokens: give a token file or role=token entries")
	}
	return t, nil
}

func redactToken(s string) string {
	if r, _, ok := strings.Cut(s, "="); ok {
		return r + "=…"
	}
	return "…"
}

// readFile reads lines "role sha256hex [name]" ('#' starts a comment). A
// missing file is created 0600 with one new cbp token, whose plain form is
// printed once to out and stored nowhere.
func (t *tokens) readFile(file string, out io.Writer) error {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return t.create(file, out)
	}
	if err != nil {
		return fmt.Errorf("api: token file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return fmt.Errorf("api: %s:%d: want \"role sha256hex [name]\"", file, n)
		}
		id, err := parseRole(fields[0])
		if err != nil {
			return fmt.Errorf("api: %s:%d: %w", file, n, err)
		}
		raw, err := hex.DecodeString(strings.TrimPrefix(fields[1], "sha256:"))
		if err != nil || len(raw) != sha256.Size {
			return fmt.Errorf("api: %s:%d: the token's SHA-256 must be 64 hex digits (printf %%s TOKEN | sha256sum)", file, n)
		}
		copy(id.key[:], raw)
		id.Name = id.Role()
		if len(fields) > 2 {
			id.Name = strings.Join(fields[2:], " ")
		}
		t.byHash[id.key] = id
	}
	return sc.Err()
}

// NewToken returns a new random bearer token (256 bits, "inb_" then
// base64url): what a first run prints, and what the demo hands its officer.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "inb_" + base64.RawURLEncoding.EncodeToString(b), nil
}

func (t *tokens) create(file string, out io.Writer) error {
	tok, err := NewToken()
	if err != nil {
		return err
	}
	h := hashToken(tok)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("api: token file: %w", err)
	}
	text := "# inbond API tokens: role sha256(token) [name]; roles cbp, doe, carrier:SCAC\n" +
		roleCBP + " " + hex.EncodeToString(h[:]) + " admin\n"
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("api: create token file: %w", err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	t.byHash[h] = Identity{Kind: roleCBP, Name: "admin", key: h}
	fmt.Fprintf(out, "inbond api: created %s with one admin (cbp) token; it is shown only now:\n\n    %s\n\n", file, tok)
	return nil
}

// limiter is one token bucket per token.
type limiter struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	by    map[[sha256.Size]byte]*rate.Limiter
}

func newLimiter(l rate.Limit, burst int) *limiter {
	return &limiter{limit: l, burst: burst, by: map[[sha256.Size]byte]*rate.Limiter{}}
}

// allow takes one request from id's bucket, or says how long to wait.
func (l *limiter) allow(id Identity, now time.Time) (bool, time.Duration) {
	if l.limit < 0 {
		return true, 0
	}
	l.mu.Lock()
	b, ok := l.by[id.key]
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.by[id.key] = b
	}
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

type identityKey struct{}

// identity is the caller of a request that authenticate let through.
func identity(ctx context.Context) Identity {
	id, _ := ctx.Value(identityKey{}).(Identity)
	return id
}

// check authenticates r and applies its token's rate limit and the roles
// allowed ("" in roles: no token needed). It returns the identity, or the
// error to answer with and headers to set.
func (s *Server) check(r *http.Request, roles []string) (Identity, *Error, http.Header) {
	if slices.Contains(roles, "") {
		return Identity{}, nil, nil
	}
	auth := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(auth, " ")
	h := http.Header{}
	h.Set("WWW-Authenticate", `Bearer realm="inbond"`)
	if auth == "" || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
		return Identity{}, fail(http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer TOKEN)"), h
	}
	id, ok := s.tokens.lookup(strings.TrimSpace(tok))
	if !ok {
		h.Set("WWW-Authenticate", `Bearer realm="inbond", error="invalid_token"`)
		return Identity{}, fail(http.StatusUnauthorized, "the bearer token is not valid"), h
	}
	if ok, wait := s.limits.allow(id, s.cfg.Now()); !ok {
		h := http.Header{}
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return id, fail(http.StatusTooManyRequests, "rate limit of %g requests/s exceeded for this token; retry after %s", float64(s.limits.limit), wait.Round(time.Millisecond)), h
	}
	if !slices.Contains(roles, id.Kind) {
		return id, fail(http.StatusForbidden, "role %s may not %s %s", id.Role(), r.Method, r.URL.Path), nil
	}
	return id, nil, nil
}

// authenticate is the huma middleware: the operation's Metadata["roles"]
// says who may call it.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	roles, _ := ctx.Operation().Metadata["roles"].([]string)
	r, w := humago.Unwrap(ctx)
	id, e, h := s.check(r, roles)
	if e != nil {
		for k, v := range h {
			w.Header()[k] = v
		}
		writeError(w, e)
		return
	}
	next(huma.WithValue(ctx, identityKey{}, id))
}

// guard is check for plain handlers, outside huma.
func (s *Server) guard(roles string, h http.Handler) http.Handler {
	allowed := strings.Split(roles, ",")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, e, hdr := s.check(r, allowed)
		if e != nil {
			for k, v := range hdr {
				w.Header()[k] = v
			}
			writeError(w, e)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

// writeError writes e as the API's JSON error.
func writeError(w http.ResponseWriter, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}
