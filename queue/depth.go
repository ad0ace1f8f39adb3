package queue

import (
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// DepthCollector reports asynq queue sizes at scrape time, so the gauge is
// never stale and costs nothing between scrapes.
type DepthCollector struct {
	insp *asynq.Inspector
	desc *prometheus.Desc
}

// NewDepthCollector returns a collector over c's Redis.
func NewDepthCollector(c *Client) *DepthCollector {
	return &DepthCollector{
		insp: asynq.NewInspectorFromRedisClient(c.rdb),
		desc: prometheus.NewDesc("switchboard_queue_depth", "Tasks in each asynq queue by state.", []string{"queue", "state"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (d *DepthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

// Collect implements prometheus.Collector.
func (d *DepthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, q := range []string{QueueMessages, QueueReceipts, QueueWebhooks} {
		info, err := d.insp.GetQueueInfo(q)
		if err != nil {
			continue // the queue does not exist until its first task
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived} {
			ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, float64(n), q, state)
		}
	}
}
