// A time chart drawn with uPlot (small, canvas): one line per series,
// sized to its container, in the page's light or dark colours (it is
// redrawn when the system switches).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  values: number[];
}

/// Colours that read on light and dark backgrounds.
const PALETTE = ['#4f6df5', '#1f9d55', '#d63b3b', '#c98a00', '#8e44ad', '#16a5a5', '#e67e22', '#7f8c8d', '#2c82c9', '#b03a6f'];

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

export function TimeChart(props: { title: string; xs: number[]; series: ChartSeries[]; unit?: string; height?: number; testid?: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    let chart: uPlot | null = null;
    const draw = () => {
      chart?.destroy();
      const fg = css('--muted') || '#6b7280';
      const grid = css('--border') || '#d9dde4';
      const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
      const opts: uPlot.Options = {
        width: Math.max(320, el.clientWidth),
        height: props.height || 240,
        title: props.title,
        scales: { x: { time: true } },
        axes: [axis, { ...axis, size: 60, values: (_u, ticks) => ticks.map((t) => (t >= 1e6 ? `${(t / 1e6).toFixed(1)}M` : t >= 1e3 ? `${(t / 1e3).toFixed(1)}k` : String(t))) }],
        series: [
          {},
          ...props.series.map((s, i) => ({
            label: s.label,
            stroke: PALETTE[i % PALETTE.length],
            fill: PALETTE[i % PALETTE.length] + '22',
            width: 2,
            points: { show: props.xs.length < 60 },
            value: (_u: uPlot, v: number | null) => (v == null ? '–' : `${v.toLocaleString()}${props.unit ? ' ' + props.unit : ''}`),
          })),
        ],
        legend: { show: true },
      };
      chart = new uPlot(opts, [props.xs, ...props.series.map((s) => s.values)], el);
    };
    draw();
    const resize = new ResizeObserver(() => chart && chart.setSize({ width: Math.max(320, el.clientWidth), height: props.height || 240 }));
    resize.observe(el);
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    scheme.addEventListener('change', draw);
    return () => {
      resize.disconnect();
      scheme.removeEventListener('change', draw);
      chart?.destroy();
    };
  }, [props.xs, props.series, props.title]);
  return <div class="chart" ref={host} data-testid={props.testid} />;
}
