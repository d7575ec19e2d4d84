/*
 * plot.c: an SVG line chart of metric series: a frame with ticks and
 * labels on both axes (1-2-5 steps), light grid lines, one <path> per
 * series and a legend. Axes, ticks and grid are <line> elements, so the
 * only <path> elements are the series.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mvm/runs.h"

#define W 720
#define H 440
#define LEFT 72.0
#define RIGHT (W - 180.0)
#define TOP 44.0
#define BOTTOM (H - 52.0)

static const char *const colors[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
				      "#e377c2", "#17becf" };

typedef struct {
	double lo, hi, step;
} axis;

static int put_escaped(mvm_buf *b, const char *s)
{
	int error = 0;

	for (; *s && !error; s++)
		switch (*s) {
		case '&': error = mvm_buf_puts(b, "&amp;"); break;
		case '<': error = mvm_buf_puts(b, "&lt;"); break;
		case '>': error = mvm_buf_puts(b, "&gt;"); break;
		case '"': error = mvm_buf_puts(b, "&quot;"); break;
		case '\'': error = mvm_buf_puts(b, "&apos;"); break;
		default: error = (unsigned char)*s < 0x20 ? 0 : mvm_buf_putc(b, *s);
		}
	return error;
}

/* Round bounds to a 1-2-5 step giving about 5 intervals. */
static axis nice_axis(double lo, double hi)
{
	double raw, mag, f;
	axis a;

	if (hi - lo < 1e-12 * (fabs(lo) + fabs(hi)) || hi == lo) {
		double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
		lo -= pad;
		hi += pad;
	}
	raw = (hi - lo) / 5;
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	a.step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
	a.lo = floor(lo / a.step) * a.step;
	a.hi = ceil(hi / a.step) * a.step;
	return a;
}

static double map(const axis *a, double v, double from, double to)
{
	return from + (v - a->lo) / (a->hi - a->lo) * (to - from);
}

static int ticks(mvm_buf *b, const axis *a, int is_x)
{
	int k, n = (int)floor((a->hi - a->lo) / a->step + 0.5), error = 0;

	for (k = 0; k <= n && !error; k++) {
		double v = a->lo + k * a->step, p;
		if (fabs(v) < a->step * 1e-9)
			v = 0;
		p = is_x ? map(a, v, LEFT, RIGHT) : map(a, v, BOTTOM, TOP);
		if (is_x)
			error = mvm_buf_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n"
					       "<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n"
					       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
					       p, TOP, p, BOTTOM, p, BOTTOM, p, BOTTOM + 5, p, BOTTOM + 19, v);
		else
			error = mvm_buf_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n"
					       "<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n"
					       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
					       LEFT, p, RIGHT, p, LEFT - 5, p, LEFT, p, LEFT - 8, p + 4, v);
	}
	return error;
}

static int frame(mvm_buf *b, const char *title, const axis *x, const axis *y)
{
	int error;

	if ((error = mvm_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
				    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
				    "font-family=\"sans-serif\" font-size=\"12\">\n"
				    "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
				    "<text x=\"%.1f\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">",
				    W, H, W, H, W, H, (LEFT + RIGHT) / 2)) < 0 ||
	    (error = put_escaped(b, title)) < 0 || (error = mvm_buf_puts(b, "</text>\n")) < 0 ||
	    (error = ticks(b, x, 1)) < 0 || (error = ticks(b, y, 0)) < 0)
		return error;
	if ((error = mvm_buf_printf(b, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n"
				    "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n"
				    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">step</text>\n"
				    "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">",
				    LEFT, BOTTOM, RIGHT, BOTTOM, LEFT, TOP, LEFT, BOTTOM, (LEFT + RIGHT) / 2, H - 12,
				    (TOP + BOTTOM) / 2, (TOP + BOTTOM) / 2)) < 0 ||
	    (error = put_escaped(b, title)) < 0)
		return error;
	return mvm_buf_puts(b, "</text>\n");
}

static int series_path(mvm_buf *b, const mvm_plot_series *s, size_t i, const axis *x, const axis *y)
{
	size_t k;
	int error;

	if ((error = mvm_buf_printf(b, "<path class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
				    "stroke-linecap=\"round\" stroke-linejoin=\"round\" d=\"", colors[i % 8])) < 0)
		return error;
	for (k = 0; k < s->n && !error; k++)
		error = mvm_buf_printf(b, "%s%.2f %.2f", k ? " L" : "M", map(x, (double)s->steps[k], LEFT, RIGHT),
				       map(y, s->values[k], BOTTOM, TOP));
	if (!error && s->n == 1)
		error = mvm_buf_printf(b, " L%.2f %.2f", map(x, (double)s->steps[0], LEFT, RIGHT),
				       map(y, s->values[0], BOTTOM, TOP));
	return error ? error : mvm_buf_puts(b, "\"/>\n");
}

static int legend(mvm_buf *b, const mvm_plot_series *s, size_t n)
{
	size_t i;
	int error = mvm_buf_puts(b, "<g class=\"legend\">\n");

	for (i = 0; i < n && !error; i++) {
		double y = TOP + 10 + 20.0 * (double)i;
		if ((error = mvm_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
					    "stroke-width=\"3\"/>\n<text x=\"%.1f\" y=\"%.1f\">",
					    RIGHT + 16, y, RIGHT + 40, y, colors[i % 8], RIGHT + 46, y + 4)) < 0 ||
		    (error = put_escaped(b, s[i].label)) < 0)
			break;
		error = mvm_buf_puts(b, "</text>\n");
	}
	return error ? error : mvm_buf_puts(b, "</g>\n");
}

int mvm_plot_svg(mvm_buf *out, const char *title, const mvm_plot_series *series, size_t n)
{
	double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
	axis x, y;
	size_t i, k;
	int error = 0;

	for (i = 0; i < n; i++)
		for (k = 0; k < series[i].n; k++) {
			xlo = fmin(xlo, (double)series[i].steps[k]);
			xhi = fmax(xhi, (double)series[i].steps[k]);
			ylo = fmin(ylo, series[i].values[k]);
			yhi = fmax(yhi, series[i].values[k]);
		}
	if (!n || !isfinite(xlo) || !isfinite(ylo))
		return mvm_error_set(MVM_EUSAGE, "nothing to plot: no series has a point");
	x = nice_axis(xlo, xhi);
	y = nice_axis(ylo, yhi);
	mvm_buf_clear(out);
	if ((error = frame(out, title, &x, &y)) < 0)
		return error;
	for (i = 0; i < n && !error; i++)
		if (series[i].n)
			error = series_path(out, &series[i], i, &x, &y);
	if (!error)
		error = legend(out, series, n);
	return error ? error : mvm_buf_puts(out, "</svg>\n");
}
