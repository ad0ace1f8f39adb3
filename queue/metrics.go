package queue

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	deliveriesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_deliveries_total",
		Help: "Message status transitions made by workers, by channel and status.",
	}, []string{"channel", "status"})
	sendDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchboard_provider_send_seconds",
		Help:    "Time a provider took to accept or refuse a message.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"provider"})
	pickupLatency = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "switchboard_queue_pickup_seconds",
		Help:    "Time from a message being enqueued to a worker picking it up.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
	batchSize = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "switchboard_delivery_batch_size",
		Help:    "Messages claimed together by one delivery task.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
	})
	unknownReceipts = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_receipts_unknown_total",
		Help: "Provider receipts for message ids we do not know; acknowledged and dropped.",
	}, []string{"provider"})
	webhookAttempts = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_webhook_attempts_total",
		Help: "Outbound webhook attempts by outcome.",
	}, []string{"outcome"})
	throttledTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_throttled_total",
		Help: "Sends deferred by a per-sender rate limit.",
	})
	sweptTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_swept_total",
		Help: "Stuck messages and webhook deliveries re-enqueued by the sweeper.",
	}, []string{"kind"})
)
