/* The table on stdout and the JSON file.  pytorch_ref.py prints the same
 * columns and writes the same keys, so bench/compare can pair rows by
 * (net, phase, batch, threads) and humans can read either table alike. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "model name" from /proc/cpuinfo, or "unknown". */
const char *bench_cpu_model(void)
{
    static char model[128] = "";
    if (model[0])
        return model;
    snprintf(model, sizeof model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            const char *v = strchr(line, ':') + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(model, sizeof model, "%s", v);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
    return model;
}

void bench_table_header(FILE *f, const bench_meta *m)
{
    fprintf(f, "cnn-bench: libcnn %s, %s | data: %s, %lld images | %d reps x %.2f s, "
               "warm-up %.2f s\n",
            cnn_version_string(), bench_blas_name(), m->data, (long long)m->images,
            m->budget->reps, m->budget->seconds / m->budget->reps, m->budget->warmup);
    fprintf(f, "cpu: %s | isa: %s (best %s) | OPENBLAS_CORETYPE=%s\n", bench_cpu_model(),
            cnn_isa_name(cnn_isa()), cnn_isa_name(cnn_isa_best()),
            getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");
    for (int i = 0; i < m->n_peaks; i++)
        fprintf(f, "%s%d thread%s %.1f GFLOP/s (sgemm %d^3)%s", i ? ", " : "sgemm peak: ",
                m->peaks[i].threads, m->peaks[i].threads == 1 ? "" : "s", m->peaks[i].gflops,
                m->peaks[i].n, i == m->n_peaks - 1 ? "\n" : "");
    for (int i = 0; i < m->n_ukr_peaks; i++)
        fprintf(f, "%s%d thread%s %.1f GFLOP/s (tile %dx%d)%s",
                i ? ", " : "own microkernel peak: ", m->ukr_peaks[i].threads,
                m->ukr_peaks[i].threads == 1 ? "" : "s", m->ukr_peaks[i].gflops,
                m->ukr_peaks[i].n / 100, m->ukr_peaks[i].n % 100,
                i == m->n_ukr_peaks - 1 ? "\n" : "");
    fflush(f);
}

void bench_table_columns(FILE *f)
{
    fprintf(f, "%-4s %-5s %5s %3s %-13s %10s %10s %10s %8s %6s %5s %10s\n", "net", "phase",
            "batch", "thr", "variant", "img/s", "min", "max", "GFLOP/s", "%peak", "cpu",
            "img/cpu-s");
    fflush(f);
}

void bench_table_row(FILE *f, const bench_row *r)
{
    char pct[16] = "-";
    if (r->peak_fraction >= 0)
        snprintf(pct, sizeof pct, "%.1f%%", 100.0 * r->peak_fraction);
    fprintf(f, "%-4s %-5s %5d %3d %-13s %10.1f %10.1f %10.1f %8.2f %6s %5.2f %10.1f\n", r->net,
            r->phase, r->batch, r->threads, r->variant, r->median, r->min, r->max, r->gflops, pct,
            r->cpu, r->cpu_median);
    fflush(f);
}

/* JSON has no NaN: unknown numbers become null. */
static void num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

int bench_write_json(const char *path, const bench_meta *m, const bench_row *rows, int n_rows,
                     long max_rss_kib)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "{\n  \"tool\": \"cnn-bench\",\n  \"impl\": \"libcnn %s\",\n  \"blas\": \"%s\",\n",
            cnn_version_string(), bench_blas_name());
    fprintf(f, "  \"data\": \"%s\",\n  \"images\": %lld,\n", m->data, (long long)m->images);
    fprintf(f, "  \"reps\": %d,\n  \"seconds\": %g,\n  \"warmup\": %g,\n", m->budget->reps,
            m->budget->seconds, m->budget->warmup);
    fputs("  \"peak\": [", f);
    for (int i = 0; i < m->n_peaks; i++)
        fprintf(f, "%s{\"threads\": %d, \"n\": %d, \"gflops\": %.4g}", i ? ", " : "",
                m->peaks[i].threads, m->peaks[i].n, m->peaks[i].gflops);
    fputs("],\n  \"ukr_peak\": [", f);
    for (int i = 0; i < m->n_ukr_peaks; i++)
        fprintf(f, "%s{\"threads\": %d, \"tile\": \"%dx%d\", \"gflops\": %.4g}", i ? ", " : "",
                m->ukr_peaks[i].threads, m->ukr_peaks[i].n / 100, m->ukr_peaks[i].n % 100,
                m->ukr_peaks[i].gflops);
    fprintf(f, "],\n  \"cpu\": \"%s\",\n  \"isa\": \"%s\",\n", bench_cpu_model(),
            cnn_isa_name(cnn_isa()));
    fprintf(f, "  \"loadavg\": [%.2f, %.2f],\n", m->load_start, m->load_end);
    fprintf(f, "  \"max_rss_kib\": %ld,\n  \"rows\": [\n", max_rss_kib);
    for (int i = 0; i < n_rows; i++) {
        const bench_row *r = &rows[i];
        fprintf(f, "    {\"net\": \"%s\", \"phase\": \"%s\", \"batch\": %d, \"threads\": %d, "
                   "\"variant\": \"%s\", \"img_s\": ",
                r->net, r->phase, r->batch, r->threads, r->variant);
        num(f, r->median);
        fputs(", \"img_s_min\": ", f);
        num(f, r->min);
        fputs(", \"img_s_max\": ", f);
        num(f, r->max);
        fputs(", \"samples\": [", f);
        for (int k = 0; k < r->reps; k++) {
            fputs(k ? ", " : "", f);
            num(f, r->samples[k]);
        }
        fputs("], \"mflop_per_image\": ", f);
        num(f, r->flop_per_image * 1e-6);
        fputs(", \"gflops\": ", f);
        num(f, r->gflops);
        fputs(", \"peak_fraction\": ", f);
        num(f, r->peak_fraction >= 0 ? r->peak_fraction : NAN);
        fputs(", \"cpu\": ", f);
        num(f, r->cpu);
        fputs(", \"img_cpu_s\": ", f);
        num(f, r->cpu_median);
        fputs(", \"cost\": ", f);
        num(f, r->cost);
        fprintf(f, ", \"max_rss_kib\": %ld}%s\n", r->max_rss_kib, i == n_rows - 1 ? "" : ",");
    }
    fputs("  ]\n}\n", f);
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}
