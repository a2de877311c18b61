package dev.autodir.spark;

import java.io.Serializable;
import java.util.List;

/**
 * One row of a job's results, per image: the input and output paths, what happened ({@code status}: restored, skipped
 * (a complete output was already there) or failed, with {@code error}: the one-line message the command line prints),
 * the image size, the passes, the class BIQA chose in each ("prompt" in prompt mode), why the loop stopped, the wall
 * times (whole image, including the wait for the executor's shared engine; sampling summed over the passes), where it ran, and the JSON report of {@code restore --report}
 * for this image. Columns are the bean properties (camelCase).
 */
public final class ImageResult implements Serializable {
    private static final long serialVersionUID = 1L;

    private String run;
    private String input;
    private String output;
    private String status;
    private String error;
    private Integer width;
    private Integer height;
    private Integer passes;
    private List<String> classes;
    private String stopReason;
    private Double totalMs;
    private Double sampleMs;
    private String executor;
    private String report;

    public ImageResult() { }

    static ImageResult of(String run, String input, String output) {
        ImageResult r = new ImageResult();
        r.run = run;
        r.input = input;
        r.output = output;
        return r;
    }

    ImageResult failed(String message) {
        status = "failed";
        error = message;
        return this;
    }

    public String getRun() { return run; }
    public void setRun(String v) { run = v; }
    public String getInput() { return input; }
    public void setInput(String v) { input = v; }
    public String getOutput() { return output; }
    public void setOutput(String v) { output = v; }
    public String getStatus() { return status; }
    public void setStatus(String v) { status = v; }
    public String getError() { return error; }
    public void setError(String v) { error = v; }
    public Integer getWidth() { return width; }
    public void setWidth(Integer v) { width = v; }
    public Integer getHeight() { return height; }
    public void setHeight(Integer v) { height = v; }
    public Integer getPasses() { return passes; }
    public void setPasses(Integer v) { passes = v; }
    public List<String> getClasses() { return classes; }
    public void setClasses(List<String> v) { classes = v; }
    public String getStopReason() { return stopReason; }
    public void setStopReason(String v) { stopReason = v; }
    public Double getTotalMs() { return totalMs; }
    public void setTotalMs(Double v) { totalMs = v; }
    public Double getSampleMs() { return sampleMs; }
    public void setSampleMs(Double v) { sampleMs = v; }
    public String getExecutor() { return executor; }
    public void setExecutor(String v) { executor = v; }
    public String getReport() { return report; }
    public void setReport(String v) { report = v; }
}
