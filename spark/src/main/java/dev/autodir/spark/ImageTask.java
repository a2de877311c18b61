package dev.autodir.spark;

import java.io.Serializable;

/** One image of a job and where its restored output goes (Hadoop paths, planned on the driver). */
public final class ImageTask implements Serializable {
    private static final long serialVersionUID = 1L;

    private String input;
    private String output;

    public ImageTask() { }

    public ImageTask(String input, String output) {
        this.input = input;
        this.output = output;
    }

    public String getInput() { return input; }
    public void setInput(String input) { this.input = input; }
    public String getOutput() { return output; }
    public void setOutput(String output) { this.output = output; }
}
