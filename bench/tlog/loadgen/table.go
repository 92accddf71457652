package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// writeKey writes a new Ed25519 private key (PKCS#8 PEM, mode 0600).
func writeKey(path string) error {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// printTable prints the results of a run.sh session, one table per
// scenario group, with each sigil row's ratio to the reference rows.
func printTable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var results []Result
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("couldn't parse %s: %w", path, err)
		}
		results = append(results, r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var groups []string
	byGroup := map[string][]Result{}
	for _, r := range results {
		if _, ok := byGroup[r.Group]; !ok {
			groups = append(groups, r.Group)
		}
		byGroup[r.Group] = append(byGroup[r.Group], r)
	}
	writeTable(os.Stdout, groups, byGroup)
	return nil
}

// writeTable writes the table and the ratios. A pair of runs either of
// which had failed requests (or ran out of requests) gets no ratio: its
// throughput counts the successes alone, so the ratio would credit the
// other side with the failures.
func writeTable(w io.Writer, groups []string, byGroup map[string][]Result) {
	fmt.Fprintln(w, "| scenario | server | API | clients | offered/s | writes/s | p50 ms | p90 ms | p99 ms | server CPU (cores) | server RSS MB | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, g := range groups {
		for _, r := range byGroup[g] {
			offered := "closed loop"
			if r.Rate > 0 {
				offered = fmt.Sprintf("%.0f", r.Rate)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.0f | %s |\n",
				g, r.Label, r.API, r.Concurrency, offered, r.Throughput, r.P50, r.P90, r.P99, r.ServerCPU, r.ServerRSS, errString(r.Errors))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios (sigil ÷ reference, same scenario): throughput, and reference p50 ÷ sigil p50")
	for _, g := range groups {
		for _, s := range byGroup[g] {
			if s.Role != "sigil" {
				continue
			}
			for _, ref := range byGroup[g] {
				if ref.Role != "reference" {
					continue
				}
				if failed(s) || failed(ref) {
					fmt.Fprintf(w, "  %s: %s %s vs %s: not compared (a run had failed requests or ran out of requests)\n", g, s.Label, s.API, ref.Label)
					continue
				}
				if ref.Throughput == 0 || s.P50 == 0 {
					continue
				}
				fmt.Fprintf(w, "  %s: %s %s vs %s: throughput ×%.1f, p50 latency ×%.1f lower\n", g, s.Label, s.API, ref.Label, s.Throughput/ref.Throughput, ref.P50/s.P50)
			}
		}
	}
}

// failed reports whether a run's figures are not those of a clean run.
func failed(r Result) bool { return len(r.Errors) > 0 || r.Exhausted }

func errString(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
