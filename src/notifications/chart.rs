//! "Notifications per day by type": a stacked bar chart computed here and drawn by the template as SVG, so
//! it needs no JavaScript. The same numbers go into a table for screen readers and for copying.
use std::collections::BTreeMap;

use super::words;
use crate::present::time;

pub const DAY_MS: i64 = 86_400_000;
/// Types beyond this many share one "other types" colour.
const MAX_SERIES: usize = 7;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 230.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 712.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 196.0;

#[derive(Debug, Clone)]
pub struct Series {
    /// CSS class giving the colour (`series-0` …); the legend names it in words.
    pub class: String,
    pub label: String,
    /// Apple's type codes in this series.
    pub codes: String,
    pub total: i64,
}

#[derive(Debug, Clone)]
pub struct Bar {
    pub x: String,
    pub y: String,
    pub w: String,
    pub h: String,
    pub class: String,
    /// Shown on hover: "2026-11-20: 3 renewed".
    pub title: String,
}

#[derive(Debug, Clone)]
pub struct Tick {
    pub x: String,
    pub y: String,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub day: String,
    pub counts: Vec<i64>,
    pub total: i64,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub width: String,
    pub height: String,
    pub axis_left: String,
    pub axis_right: String,
    pub axis_bottom: String,
    pub axis_top: String,
    pub bars: Vec<Bar>,
    pub series: Vec<Series>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub rows: Vec<Row>,
    pub title: String,
    pub desc: String,
    pub total: i64,
}

fn day_label(day: i64) -> String {
    time::day(day * DAY_MS)
}

fn short_day(day: i64) -> String {
    chrono::DateTime::from_timestamp_millis(day * DAY_MS)
        .map(|d| d.format("%b %-d").to_string())
        .unwrap_or_default()
}

/// The smallest of 1, 2, 5, 10, 20, 50 … that is at least `max`.
fn nice_ceiling(max: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if step * m >= max {
                return step * m;
            }
        }
        step *= 10;
    }
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

/// `counts` holds (type, UTC day number, count); days run from `first_day` for `days` days.
pub fn build(first_day: i64, days: i64, counts: &[(String, i64, i64)]) -> Chart {
    let days = days.max(1);
    let last_day = first_day + days - 1;
    let mut by_type: BTreeMap<&str, i64> = BTreeMap::new();
    for (t, day, n) in counts {
        if (first_day..=last_day).contains(day) {
            *by_type.entry(t.as_str()).or_default() += n;
        }
    }
    let mut ranked: Vec<(&str, i64)> = by_type.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let series_of = |t: &str| -> usize {
        ranked
            .iter()
            .position(|(r, _)| *r == t)
            .map(|i| i.min(MAX_SERIES))
            .unwrap_or(MAX_SERIES)
    };
    let mut series: Vec<Series> = ranked
        .iter()
        .take(MAX_SERIES)
        .enumerate()
        .map(|(i, (t, n))| Series {
            class: format!("series-{i}"),
            label: words::type_label(t),
            codes: (*t).to_owned(),
            total: *n,
        })
        .collect();
    if ranked.len() > MAX_SERIES {
        let rest = &ranked[MAX_SERIES..];
        series.push(Series {
            class: format!("series-{MAX_SERIES}"),
            label: "other types".into(),
            codes: rest.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", "),
            total: rest.iter().map(|(_, n)| n).sum(),
        });
    }

    // grid[day][series]
    let mut grid = vec![vec![0i64; series.len()]; days as usize];
    for (t, day, n) in counts {
        let row = usize::try_from(day - first_day)
            .ok()
            .and_then(|d| grid.get_mut(d));
        if let Some(cell) = row.and_then(|r| r.get_mut(series_of(t))) {
            *cell += n;
        }
    }
    let max_total = grid
        .iter()
        .map(|r| r.iter().sum::<i64>())
        .max()
        .unwrap_or(0);
    let top = nice_ceiling(max_total.max(1));
    let plot_h = BOTTOM - TOP;
    let slot = (RIGHT - LEFT) / days as f64;
    let bar_w = (slot * 0.78).max(1.0);
    let scale = plot_h / top as f64;

    let mut bars = Vec::new();
    let mut rows = Vec::new();
    for (d, cells) in grid.iter().enumerate() {
        let day = first_day + d as i64;
        let x = LEFT + slot * d as f64 + (slot - bar_w) / 2.0;
        let mut y = BOTTOM;
        for (i, n) in cells.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let h = *n as f64 * scale;
            y -= h;
            if let Some(s) = series.get(i) {
                bars.push(Bar {
                    x: f(x),
                    y: f(y),
                    w: f(bar_w),
                    h: f(h),
                    class: s.class.clone(),
                    title: format!("{}: {n} {}", day_label(day), s.label),
                });
            }
        }
        rows.push(Row {
            day: day_label(day),
            counts: cells.clone(),
            total: cells.iter().sum(),
        });
    }

    // About six day labels, always the first and the last day.
    let every = ((days + 5) / 6).max(1);
    let x_ticks = (0..days)
        .filter(|d| d % every == 0 || *d == days - 1)
        .filter(|d| *d == days - 1 || days - 1 - d >= every / 2)
        .map(|d| Tick {
            x: f(LEFT + slot * d as f64 + slot / 2.0),
            y: f(BOTTOM + 16.0),
            label: short_day(first_day + d),
        })
        .collect();
    let mut y_values = vec![0, top];
    if top >= 2 {
        y_values.insert(1, top / 2);
    }
    let y_ticks = y_values
        .into_iter()
        .map(|v| Tick {
            x: f(LEFT - 6.0),
            y: f(BOTTOM - v as f64 * scale + 4.0),
            label: v.to_string(),
        })
        .collect();

    let total: i64 = series.iter().map(|s| s.total).sum();
    let busiest = series
        .first()
        .map(|s| {
            format!(
                " The most frequent was “{}” ({}, {}).",
                s.label, s.codes, s.total
            )
        })
        .unwrap_or_default();
    Chart {
        width: f(WIDTH),
        height: f(HEIGHT),
        axis_left: f(LEFT),
        axis_right: f(RIGHT),
        axis_bottom: f(BOTTOM),
        axis_top: f(TOP),
        bars,
        series,
        x_ticks,
        y_ticks,
        rows,
        title: "Notifications per day by type".into(),
        desc: format!(
            "Stacked bars, one per UTC day from {} to {}: {total} notifications in all.{busiest} The table below holds the same numbers.",
            day_label(first_day),
            day_label(last_day)
        ),
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stack_per_day_and_the_table_matches() {
        let counts = vec![
            ("DID_RENEW".to_string(), 100, 3),
            ("REFUND".to_string(), 100, 1),
            ("DID_RENEW".to_string(), 102, 2),
        ];
        let c = build(100, 3, &counts);
        assert_eq!(c.total, 6);
        assert_eq!(c.series[0].codes, "DID_RENEW");
        assert_eq!(c.rows[0].counts, vec![3, 1]);
        assert_eq!(c.rows[1].total, 0);
        assert_eq!(c.rows[2].counts, vec![2, 0]);
        assert_eq!(c.bars.len(), 3);
        assert!(c.bars.iter().any(|b| b.title.ends_with(": 1 refunded")));
    }

    #[test]
    fn more_types_than_colours_share_other() {
        let counts: Vec<(String, i64, i64)> =
            (0..10).map(|i| (format!("TYPE_{i}"), 5, i + 1)).collect();
        let c = build(5, 1, &counts);
        assert_eq!(c.series.len(), MAX_SERIES + 1);
        assert_eq!(c.series[MAX_SERIES].label, "other types");
        assert_eq!(c.series[MAX_SERIES].total, 1 + 2 + 3);
        assert_eq!(c.rows[0].total, 55);
    }

    #[test]
    fn the_axis_tops_out_at_a_round_number() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(51), 100);
    }
}
