//! Request bodies that stall are cut: a phone that promised 15 MB and went
//! silent, or a client sending a byte now and then, must not hold a
//! connection and a handler for ever.
//!
//! Two clocks run while a body is read: no byte for `idle`, or the whole body
//! not in within `total`. Either ends the read with 408 problem+json and
//! `Connection: close`. A request without a body, or a handler that never
//! reads its body, starts neither.

use crate::error::AppError;
use crate::error::ErrorCode;
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{web, Error, HttpMessage};
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{sleep, Instant, Sleep};

/// How long a body may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeouts {
    /// Longest wait for the next byte.
    pub idle: Duration,
    /// Longest time for the whole body.
    pub total: Duration,
}

impl BodyTimeouts {
    /// The limits the settings give.
    pub fn of(settings: &crate::config::Settings) -> Self {
        Self {
            idle: Duration::from_secs(settings.body_idle_seconds),
            total: Duration::from_secs(settings.body_total_seconds),
        }
    }
}

/// Puts the clocks on every request's body.
pub async fn cut_stalled_bodies(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Most requests (every GET) carry no body: nothing to time.
    let headers = req.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|len| len.as_bytes() != b"0");
    let limits = req
        .app_data::<web::Data<AppState>>()
        .map(|s| BodyTimeouts::of(&s.settings));
    let Some(limits) = limits.filter(|_| has_body) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let timed_out = Arc::new(AtomicBool::new(false));
    let inner = req.take_payload();
    req.set_payload(Payload::from(
        Box::pin(Clocked::new(inner, limits, timed_out.clone()))
            as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>,
    ));
    let outcome = next.call(req).await;
    if !timed_out.load(Ordering::Acquire) {
        return outcome.map(ServiceResponse::map_into_boxed_body);
    }
    // Whatever the handler made of its broken body, the answer is the timeout.
    let Ok(res) = outcome else {
        return Err(stalled(limits).into());
    };
    let (req, _) = res.into_parts();
    let mut res = actix_web::ResponseError::error_response(&stalled(limits));
    res.head_mut().set_connection_type(ConnectionType::Close);
    Ok(ServiceResponse::new(req, res))
}

fn stalled(limits: BodyTimeouts) -> AppError {
    AppError::new(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::BodyTimeout,
        format!(
            "The request body stopped arriving: no data for {} s, or not all of it within {} s. \
             Send it again when the connection is better.",
            limits.idle.as_secs(),
            limits.total.as_secs()
        ),
        format!(
            "Innehållet slutade komma fram: inget på {} sekunder, eller inte allt inom {} sekunder. \
             Skicka igen när anslutningen är bättre.",
            limits.idle.as_secs(),
            limits.total.as_secs()
        ),
    )
}

/// A body stream that ends in an error when either clock runs out.
struct Clocked {
    inner: Payload,
    limits: BodyTimeouts,
    /// Armed at the first read: a body nobody reads costs no timer.
    clocks: Option<Clocks>,
    timed_out: Arc<AtomicBool>,
    done: bool,
}

struct Clocks {
    idle: Pin<Box<Sleep>>,
    total: Pin<Box<Sleep>>,
}

impl Clocked {
    fn new(inner: Payload, limits: BodyTimeouts, timed_out: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            limits,
            clocks: None,
            timed_out,
            done: false,
        }
    }
}

impl Stream for Clocked {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let limits = this.limits;
        let clocks = this.clocks.get_or_insert_with(|| Clocks {
            idle: Box::pin(sleep(limits.idle)),
            total: Box::pin(sleep(limits.total)),
        });
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                clocks
                    .idle
                    .as_mut()
                    .reset(Instant::now() + this.limits.idle);
                // A body that keeps trickling is still cut by the total clock.
                if clocks.total.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(this.expire())));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(other) => {
                this.done = other.is_none();
                Poll::Ready(other)
            }
            Poll::Pending => {
                let idle = clocks.idle.as_mut().poll(cx).is_ready();
                let total = clocks.total.as_mut().poll(cx).is_ready();
                if idle || total {
                    return Poll::Ready(Some(Err(this.expire())));
                }
                Poll::Pending
            }
        }
    }
}

impl Clocked {
    fn expire(&mut self) -> PayloadError {
        self.done = true;
        self.timed_out.store(true, Ordering::Release);
        PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "request body stalled",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn limits(idle_ms: u64, total_ms: u64) -> BodyTimeouts {
        BodyTimeouts {
            idle: Duration::from_millis(idle_ms),
            total: Duration::from_millis(total_ms),
        }
    }

    fn clocked(
        chunks: Vec<(u64, &'static [u8])>,
        limits: BodyTimeouts,
    ) -> (Clocked, Arc<AtomicBool>) {
        let stream = futures_util::stream::iter(chunks).then(|(wait, bytes)| async move {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            Ok::<_, PayloadError>(Bytes::from_static(bytes))
        });
        let flag = Arc::new(AtomicBool::new(false));
        let payload = Payload::from(
            Box::pin(stream) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
        );
        (Clocked::new(payload, limits, flag.clone()), flag)
    }

    async fn read_all(mut body: Clocked) -> Result<Vec<u8>, PayloadError> {
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_coming_is_read_whole() {
        let (body, flag) = clocked(
            vec![(900, b"ab"), (900, b"cd"), (900, b"ef")],
            limits(1000, 10_000),
        );
        assert_eq!(read_all(body).await.unwrap(), b"abcdef");
        assert!(!flag.load(Ordering::Acquire));
    }

    #[tokio::test(start_paused = true)]
    async fn silence_longer_than_idle_cuts_the_body() {
        let (body, flag) = clocked(vec![(10, b"ab"), (1500, b"cd")], limits(1000, 10_000));
        let started = Instant::now();
        let err = read_all(body).await.unwrap_err();
        assert!(matches!(err, PayloadError::Io(ref e) if e.kind() == std::io::ErrorKind::TimedOut));
        assert!(flag.load(Ordering::Acquire));
        assert_eq!(started.elapsed(), Duration::from_millis(1010));
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_is_cut_by_the_total_clock() {
        let chunks = (0..20).map(|_| (500, &b"x"[..])).collect();
        let (body, flag) = clocked(chunks, limits(1000, 3000));
        assert!(read_all(body).await.is_err());
        assert!(flag.load(Ordering::Acquire));
    }
}
