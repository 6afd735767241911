//! Chart.js with only the parts the app draws (tree-shaken), registered once.
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  DoughnutController,
  Legend,
  LinearScale,
  Tooltip,
} from 'chart.js'

Chart.register(ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Legend, LinearScale, Tooltip)

export { Chart }

/** Colours of the current theme, read from the CSS variables. */
export function themeColors(): { text: string; muted: string; grid: string; income: string; expense: string } {
  const css = getComputedStyle(document.documentElement)
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback
  return {
    text: v('--text', '#161a23'),
    muted: v('--muted', '#5f6779'),
    grid: v('--border', '#dfe3ec'),
    income: v('--income', '#0f7a44'),
    expense: v('--expense', '#b42318'),
  }
}
