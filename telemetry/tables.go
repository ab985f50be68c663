package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/posture/posture/kql"
)

// Tables reports the size of this replica's Resource Graph tables: rows by
// table and the string dictionary. They live in each replica's memory,
// where most of its heap is (docs/sizing.md), so they are per replica.
type Tables struct {
	Stats func() kql.Stats
}

var (
	tableRowsDesc = prometheus.NewDesc("posture_kql_table_rows",
		"Rows of each Resource Graph table held in this replica's memory.", []string{"table"}, nil)
	dictStringsDesc = prometheus.NewDesc("posture_kql_dictionary_strings",
		"Distinct strings in the Resource Graph tables' dictionary. It only grows: strings of replaced or deleted rows stay until a restart.", nil, nil)
	dictBytesDesc = prometheus.NewDesc("posture_kql_dictionary_bytes",
		"Bytes held by the Resource Graph tables' string dictionary.", nil, nil)
)

// Describe implements prometheus.Collector.
func (t Tables) Describe(ch chan<- *prometheus.Desc) {
	ch <- tableRowsDesc
	ch <- dictStringsDesc
	ch <- dictBytesDesc
}

// Collect implements prometheus.Collector.
func (t Tables) Collect(ch chan<- prometheus.Metric) {
	s := t.Stats()
	for name, n := range s.Rows {
		ch <- prometheus.MustNewConstMetric(tableRowsDesc, prometheus.GaugeValue, float64(n), name)
	}
	ch <- prometheus.MustNewConstMetric(dictStringsDesc, prometheus.GaugeValue, float64(s.Strings))
	ch <- prometheus.MustNewConstMetric(dictBytesDesc, prometheus.GaugeValue, float64(s.StringBytes))
}
