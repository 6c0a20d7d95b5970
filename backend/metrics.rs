//! The server's metrics for the monitoring a municipality already runs
//! (Prometheus): requests by route template and status, their latency, the
//! database pool, the photo pipeline, the follow-up runs. Labels hold route
//! templates and counts only, never an id, a name or anything a person typed.
//! `http::metrics` counts the requests and serves `/metrics`.

use crate::db::PoolWaits;
use crate::media::pipeline;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route template (`/api/v1/orders/{id}/install`), `(unmatched)` else.
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    outcome: String,
}

/// The server's metrics; one per process, in [`AppState`].
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool: Family<PoolLabels, Gauge>,
    photos: Family<PoolLabels, Gauge>,
    photo_memory_mib: Family<PoolLabels, Gauge>,
    followup_runs: Family<RunLabels, Counter>,
    followup_fired: Counter,
}

/// Counters kept elsewhere (the pool's waits, the photo pipeline's time),
/// read at each scrape.
#[derive(Debug)]
struct Totals {
    waits: Arc<PoolWaits>,
}

impl Collector for Totals {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let micros = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e6;
        let count = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let counters: [(&str, &str, ConstCounter<f64>); 4] = [
            (
                "db_pool_checkouts",
                "Connections taken from the pool",
                ConstCounter::new(count(&self.waits.checkouts) as f64),
            ),
            (
                "db_pool_wait_seconds",
                "Time spent waiting for a pooled connection",
                ConstCounter::new(micros(&self.waits.waited_micros)),
            ),
            (
                "photos_processed",
                "Photos through the pipeline (decoded, turned upright, display copy and thumbnail)",
                ConstCounter::new(count(&pipeline::PROCESSED.photos) as f64),
            ),
            (
                "photo_processing_seconds",
                "Time the pipeline spent on them",
                ConstCounter::new(micros(&pipeline::PROCESSED.micros)),
            ),
        ];
        for (name, help, counter) in counters {
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}

impl Metrics {
    pub fn new(waits: Arc<PoolWaits>) -> Self {
        let mut registry = Registry::with_prefix("larmkoll");
        registry.register_collector(Box::new(Totals { waits }));
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 1 ms to about 33 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time from the request's arrival to its answer, by method and route template",
            latency.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections: in_use, idle, and max (the pool's size)",
            pool.clone(),
        );
        let photos = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "photo_slots",
            "Photos being processed (in_use) and the most at once (max)",
            photos.clone(),
        );
        let photo_memory_mib = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "photo_memory_mib",
            "The photo pipeline's memory budget in MiB: in_use and max",
            photo_memory_mib.clone(),
        );
        let followup_runs = Family::<RunLabels, Counter>::default();
        registry.register(
            "followup_runs",
            "Runs of the follow-up rules, by outcome (ok, failed)",
            followup_runs.clone(),
        );
        let followup_fired = Counter::default();
        registry.register(
            "followup_fired",
            "Follow-up rules fired (each sends its messages once)",
            followup_fired.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            latency,
            pool,
            photos,
            photo_memory_mib,
            followup_runs,
            followup_fired,
        }
    }
}

impl Metrics {
    /// One answered request.
    pub fn observe(&self, method: &str, route: String, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.clone(),
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route,
            })
            .observe(seconds);
    }

    /// One run of the follow-up rules: how many fired, or that it failed.
    pub fn followup_run(&self, fired: Option<usize>) {
        let outcome = if fired.is_some() { "ok" } else { "failed" };
        self.followup_runs
            .get_or_create(&RunLabels {
                outcome: outcome.into(),
            })
            .inc();
        if let Some(n) = fired {
            self.followup_fired.inc_by(n as u64);
        }
    }

    fn set(family: &Family<PoolLabels, Gauge>, state: &str, value: i64) {
        family
            .get_or_create(&PoolLabels {
                state: state.into(),
            })
            .set(value);
    }

    /// The text a scrape gets, with the gauges as read now.
    pub fn render(&self, now: &Gauges) -> String {
        Self::set(&self.pool, "in_use", now.pool_in_use);
        Self::set(&self.pool, "idle", now.pool_idle);
        Self::set(&self.pool, "max", now.pool_max);
        Self::set(&self.photos, "max", now.photo_slots);
        Self::set(&self.photos, "in_use", now.photo_slots_in_use);
        Self::set(&self.photo_memory_mib, "max", now.photo_memory_mib);
        Self::set(
            &self.photo_memory_mib,
            "in_use",
            now.photo_memory_mib_in_use,
        );
        let mut out = String::new();
        let registry = self.registry.lock().expect("metrics registry");
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// What the gauges show at a scrape, read from the running server.
pub struct Gauges {
    pub pool_in_use: i64,
    pub pool_idle: i64,
    pub pool_max: i64,
    pub photo_slots: i64,
    pub photo_slots_in_use: i64,
    pub photo_memory_mib: i64,
    pub photo_memory_mib_in_use: i64,
}
