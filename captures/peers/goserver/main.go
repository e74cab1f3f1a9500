// goserver: an admission webhook server built like real ones (net/http + crypto/tls).
//
// Modes (-mode):
//
//	ok         answer every POST with an allowed AdmissionReview (200)
//	sleep      read the request, then the handler just sleeps (-sleep), no answer
//	firstonly  answer the first request of each connection, sleep on later ones
//	close-fin  read the request, hijack, close the TCP socket (FIN, no close_notify)
//	close-rst  read the request, hijack, SO_LINGER 0 + close (RST)
//	panic      the handler panics: net/http closes the connection itself
//	probe      plain HTTP: GET /healthz -> 500, anything else -> 200
//
// -plain serves HTTP without TLS (a TLS ClientHello gets "HTTP/1.1 400 Bad Request").
// The process exits by itself after -lifetime.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

type ctxKey struct{}

func main() {
	listen := flag.String("listen", "", "IP:port")
	certFile := flag.String("cert", "", "PEM certificate chain")
	keyFile := flag.String("key", "", "PEM key")
	maxTLS := flag.String("maxtls", "1.3", "1.2 or 1.3")
	mode := flag.String("mode", "ok", "ok|sleep|firstonly|close-fin|close-rst|panic|probe")
	plain := flag.Bool("plain", false, "serve plain HTTP")
	clientCA := flag.String("client-ca", "", "require and verify a client certificate from this CA")
	sleep := flag.Duration("sleep", 30*time.Second, "handler sleep for sleep/firstonly")
	lifetime := flag.Duration("lifetime", 90*time.Second, "exit after this long")
	flag.Parse()

	logger := log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds)
	allowed := []byte(`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",` +
		`"response":{"uid":"5b3c1a4e-8c1f-4c4a-9d2e-2f6c4c1d0a01","allowed":true}}`)

	readBody := func(r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.Printf("request %s %s from %s", r.Method, r.URL, r.RemoteAddr)
		switch *mode {
		case "ok":
			readBody(r)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.Write(allowed)
		case "sleep":
			readBody(r)
			time.Sleep(*sleep)
		case "firstonly":
			readBody(r)
			cnt := r.Context().Value(ctxKey{}).(*int32)
			if atomic.AddInt32(cnt, 1) > 1 {
				time.Sleep(*sleep)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(allowed)
		case "close-fin", "close-rst":
			readBody(r)
			hj, ok := w.(http.Hijacker)
			if !ok {
				logger.Printf("cannot hijack")
				return
			}
			c, _, err := hj.Hijack()
			if err != nil {
				logger.Printf("hijack: %v", err)
				return
			}
			raw := c
			if tc, ok := c.(*tls.Conn); ok {
				raw = tc.NetConn() // close the TCP socket itself: no close_notify
			}
			if *mode == "close-rst" {
				if tcp, ok := raw.(*net.TCPConn); ok {
					tcp.SetLinger(0)
				}
			}
			raw.Close()
			logger.Printf("closed %s (%s)", r.RemoteAddr, *mode)
		case "panic":
			readBody(r)
			panic("pcd: handler panic")
		case "probe":
			if r.URL.Path == "/healthz" {
				http.Error(w, "unhealthy: pcd test", http.StatusInternalServerError)
				return
			}
			w.Write([]byte("ok"))
		default:
			http.Error(w, "bad mode", http.StatusInternalServerError)
		}
	})

	srv := &http.Server{
		Handler:  handler,
		ErrorLog: logger,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey{}, new(int32))
		},
		// No h2: webhook servers commonly disable it, and the client only offers http/1.1.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		logger.Fatal(err)
	}
	if !*plain {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			logger.Fatal(err)
		}
		cfg := &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"http/1.1"},
		}
		if kl := os.Getenv("SSLKEYLOGFILE"); kl != "" {
			if f, err := os.OpenFile(kl, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
				cfg.KeyLogWriter = f
			}
		}
		if *maxTLS == "1.2" {
			cfg.MaxVersion = tls.VersionTLS12
		}
		if *clientCA != "" {
			pem, err := os.ReadFile(*clientCA)
			if err != nil {
				logger.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			cfg.ClientCAs = pool
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
		ln = tls.NewListener(ln, cfg)
	}
	go func() {
		time.Sleep(*lifetime)
		os.Exit(0)
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	os.Stdout.Sync()
	logger.Printf("serve: %v", srv.Serve(ln))
}
