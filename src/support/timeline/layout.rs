//! The timeline's picture: `Timeline::layout` turns the model into SVG coordinates (bars, markers, axis ticks and
//! a sentence for screen readers), so the page draws it with no JavaScript.
use serde::Serialize;

use super::{EventKind, PeriodKind, Timeline, DAY_MS};
use crate::present::time::{day, utc};

const WIDTH: f64 = 760.0;
const MARGIN_X: f64 = 14.0;
const TOP: f64 = 8.0;
const LANE_HEIGHT: f64 = 46.0;
const BAR_OFFSET: f64 = 20.0;
const BAR_HEIGHT: f64 = 14.0;

#[derive(Clone, Debug, Serialize)]
pub struct SvgRect {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    pub class: &'static str,
    pub title: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SvgMarker {
    /// Path data of the marker's shape.
    pub d: String,
    pub class: &'static str,
    pub title: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SvgLane {
    pub label: String,
    pub label_x: String,
    pub label_y: String,
    pub bars: Vec<SvgRect>,
    pub markers: Vec<SvgMarker>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SvgTick {
    pub x: String,
    pub label: String,
    pub anchor: &'static str,
}

/// Everything the template needs to draw the picture.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineSvg {
    pub width: String,
    pub height: String,
    pub lanes: Vec<SvgLane>,
    pub ticks: Vec<SvgTick>,
    pub axis_y: String,
    pub tick_label_y: String,
    pub tick_end: String,
    pub now_x: String,
    pub now_top: String,
    pub summary: String,
}

fn n(v: f64) -> String {
    format!("{v:.1}")
}

fn period_class(kind: PeriodKind) -> &'static str {
    match kind {
        PeriodKind::Paid => "tl-paid",
        PeriodKind::Offer => "tl-offer",
        PeriodKind::Refunded => "tl-refunded",
        PeriodKind::BillingRetry => "tl-retry",
        PeriodKind::GracePeriod => "tl-grace",
    }
}

fn marker(kind: EventKind, x: f64, y: f64) -> (String, &'static str) {
    let r = 5.0;
    let circle = |r: f64| {
        format!(
            "M{} {}a{r} {r} 0 1 0 {} 0a{r} {r} 0 1 0 {} 0",
            n(x - r),
            n(y),
            n(2.0 * r),
            n(-2.0 * r)
        )
    };
    match kind {
        EventKind::Purchase => (circle(r), "tl-m-purchase"),
        EventKind::Renewal => (
            format!(
                "M{} {}V{}",
                n(x),
                n(y - BAR_HEIGHT / 2.0 - 2.0),
                n(y + BAR_HEIGHT / 2.0 + 2.0)
            ),
            "tl-m-renewal",
        ),
        EventKind::Upgrade => (
            format!(
                "M{} {}L{} {}L{} {}Z",
                n(x),
                n(y - 7.0),
                n(x + 6.0),
                n(y + 5.0),
                n(x - 6.0),
                n(y + 5.0)
            ),
            "tl-m-upgrade",
        ),
        EventKind::Refund | EventKind::Revocation => (
            format!(
                "M{} {}L{} {}M{} {}L{} {}",
                n(x - r),
                n(y - r),
                n(x + r),
                n(y + r),
                n(x - r),
                n(y + r),
                n(x + r),
                n(y - r)
            ),
            "tl-m-refund",
        ),
        EventKind::BillingRetry => (
            format!(
                "M{} {}L{} {}L{} {}Z",
                n(x),
                n(y + 7.0),
                n(x + 6.0),
                n(y - 5.0),
                n(x - 6.0),
                n(y - 5.0)
            ),
            "tl-m-retry",
        ),
        EventKind::GraceEnds | EventKind::Expiry => (
            format!(
                "M{} {}L{} {}L{} {}L{} {}Z",
                n(x),
                n(y - 6.0),
                n(x + 6.0),
                n(y),
                n(x),
                n(y + 6.0),
                n(x - 6.0),
                n(y)
            ),
            if kind == EventKind::Expiry {
                "tl-m-expiry"
            } else {
                "tl-m-retry"
            },
        ),
        EventKind::Renews => (circle(r), "tl-m-renews"),
    }
}

impl Timeline {
    /// SVG coordinates for the model (a 760-unit wide view box that scales with the page).
    pub fn layout(&self) -> TimelineSvg {
        let plot = WIDTH - 2.0 * MARGIN_X;
        let span = (self.end_ms - self.start_ms).max(1) as f64;
        let x = |ms: i64| MARGIN_X + ((ms - self.start_ms) as f64 / span).clamp(0.0, 1.0) * plot;
        let lane_top = |i: usize| TOP + i as f64 * LANE_HEIGHT;
        let lanes = self
            .lanes
            .iter()
            .enumerate()
            .map(|(i, lane)| {
                let bar_y = lane_top(i) + BAR_OFFSET;
                let bars = lane
                    .periods
                    .iter()
                    .map(|p| {
                        let (x1, x2) = (x(p.from_ms), x(p.to_ms));
                        SvgRect {
                            x: n(x1),
                            y: n(bar_y),
                            width: n((x2 - x1).max(2.0)),
                            height: n(BAR_HEIGHT),
                            class: period_class(p.kind),
                            title: format!("{} to {}: {}", utc(p.from_ms), utc(p.to_ms), p.label),
                        }
                    })
                    .collect();
                let markers = self
                    .events
                    .iter()
                    .filter(|e| e.lane == i)
                    .map(|e| {
                        let (d, class) = marker(e.kind, x(e.at.ms), bar_y + BAR_HEIGHT / 2.0);
                        SvgMarker {
                            d,
                            class,
                            title: format!("{}: {}", e.at.utc, e.label),
                        }
                    })
                    .collect();
                SvgLane {
                    label: lane.product_id.clone(),
                    label_x: n(MARGIN_X),
                    label_y: n(lane_top(i) + 13.0),
                    bars,
                    markers,
                }
            })
            .collect();
        let axis_y = lane_top(self.lanes.len()) + 6.0;
        let long = self.end_ms - self.start_ms > 400 * DAY_MS;
        let ticks = (0..=4)
            .map(|k| {
                let ms = self.start_ms + (self.end_ms - self.start_ms) * k / 4;
                let label = if long {
                    chrono::DateTime::from_timestamp_millis(ms)
                        .map(|d| d.format("%b %Y").to_string())
                        .unwrap_or_default()
                } else {
                    day(ms)
                };
                SvgTick {
                    x: n(x(ms)),
                    label,
                    anchor: match k {
                        0 => "start",
                        4 => "end",
                        _ => "middle",
                    },
                }
            })
            .collect();
        TimelineSvg {
            width: n(WIDTH),
            height: n(axis_y + 24.0),
            tick_end: n(axis_y + 4.0),
            lanes,
            ticks,
            axis_y: n(axis_y),
            tick_label_y: n(axis_y + 17.0),
            now_x: n(x(self.now_ms)),
            now_top: n(TOP),
            summary: format!(
                "Timeline of the subscription from {} to today, drawn from {} transaction(s) storedesk has seen: {} event(s).",
                utc(self.start_ms),
                self.transactions,
                self.events.len()
            ),
        }
    }
}
