// Command go-template-oracle runs request log templates with Go's own text/template and net/http, for
// the test that compares Zerogate's Go-template subset with them (test/go-template-oracle.test.ts).
//
// Stdin: one JSON case: a raw HTTP/1.1 request, the client's address, the response and revision facts,
// and the templates. Stdout: one JSON result per template: its output, or the parse or execution error.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"text/template"
)

// revision and response have the fields Knative's request log gives its templates.
type revision struct {
	Name, Namespace, Service, Configuration, PodName, PodIP string
}

type response struct {
	Code    int
	Size    int
	Latency float64
}

// input is the data a request log template runs on.
type input struct {
	Request  *http.Request
	Response *response
	Revision *revision
	TraceID  string
}

type testCase struct {
	Request    string   `json:"request"`
	RemoteAddr string   `json:"remoteAddr"`
	Response   response `json:"response"`
	Revision   revision `json:"revision"`
	Templates  []string `json:"templates"`
}

type result struct {
	Output     *string `json:"output,omitempty"`
	ParseError string  `json:"parseError,omitempty"`
	ExecError  string  `json:"execError,omitempty"`
}

// traceID is the W3C trace ID of traceparent, else the B3 one.
func traceID(h http.Header) string {
	if tp := h.Get("Traceparent"); tp != "" {
		if parts := strings.SplitN(tp, "-", 3); len(parts) >= 2 {
			return parts[1]
		}
	}
	return h.Get("X-B3-Traceid")
}

func main() {
	var c testCase
	if err := json.NewDecoder(os.Stdin).Decode(&c); err != nil {
		panic(err)
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(c.Request)))
	if err != nil {
		panic(err)
	}
	req.RemoteAddr = c.RemoteAddr
	data := &input{Request: req, Response: &c.Response, Revision: &c.Revision, TraceID: traceID(req.Header)}
	results := make([]result, 0, len(c.Templates))
	for _, text := range c.Templates {
		t, err := template.New("requestLog").Parse(text)
		if err != nil {
			results = append(results, result{ParseError: err.Error()})
			continue
		}
		var out bytes.Buffer
		if err := t.Execute(&out, data); err != nil {
			results = append(results, result{ExecError: err.Error()})
			continue
		}
		s := out.String()
		results = append(results, result{Output: &s})
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		panic(err)
	}
}
