package transport

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// compressThreshold is the smallest polling response body that is
// compressed (Node's httpCompression.threshold default).
const compressThreshold = 1024

// Compressors are pooled: each holds a few hundred KiB of deflate state.
// They use the fastest level: on 4 KiB of chat JSON it takes a third of the
// default level's time for a tenth more bytes (BenchmarkCompressBody), and a
// gateway spends its CPU on many small responses.
var (
	gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed); return w }}
	zlibPool = sync.Pool{New: func() any { w, _ := zlib.NewWriterLevel(io.Discard, zlib.BestSpeed); return w }}
)

// compressBody returns body compressed with the content coding that r
// accepts (gzip or deflate, as Node's engine.io offers them), appended to
// dst, and the coding; or body itself and "" when it is below
// compressThreshold, compression is off, or r accepts neither.
func (s *Server) compressBody(dst, body []byte, r *http.Request) ([]byte, string) {
	if s.cfg.DisableCompression || len(body) < compressThreshold {
		return body, ""
	}
	coding := chooseEncoding(r.Header.Values("Accept-Encoding"))
	if coding == "" {
		return body, ""
	}
	buf := bytes.NewBuffer(dst[:0])
	var err error
	switch coding {
	case "gzip":
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(buf)
		_, err = zw.Write(body)
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		gzipPool.Put(zw)
	default:
		zw := zlibPool.Get().(*zlib.Writer)
		zw.Reset(buf)
		_, err = zw.Write(body)
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		zlibPool.Put(zw)
	}
	if err != nil { // cannot happen with a bytes.Buffer; send it as it is
		return body, ""
	}
	return buf.Bytes(), coding
}

// chooseEncoding picks gzip or deflate from Accept-Encoding values (RFC
// 9110 section 12.5.3): the one with the higher q, gzip on a tie; "*"
// stands for any coding not listed; q=0 refuses. "" when neither is
// acceptable.
func chooseEncoding(values []string) string {
	qs := map[string]float64{}
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding == "" {
				continue
			}
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(name), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil || f < 0 || f > 1 {
						f = 0
					}
					q = f
				}
			}
			if coding == "x-gzip" {
				coding = "gzip"
			}
			qs[coding] = q
		}
	}
	best, bestQ := "", 0.0
	for _, coding := range []string{"gzip", "deflate"} {
		q, ok := qs[coding]
		if !ok {
			q, ok = qs["*"]
		}
		if ok && q > bestQ {
			best, bestQ = coding, q
		}
	}
	return best
}
