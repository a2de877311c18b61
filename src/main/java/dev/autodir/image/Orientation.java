package dev.autodir.image;

/**
 * The eight EXIF/TIFF orientations (tag 0x0112) and how to turn a stored image upright.
 *
 * <p>The value says where the stored rows and columns belong when the image is displayed:
 * 1 as stored, 2 mirrored left-right, 3 rotated 180°, 4 mirrored top-bottom, 5 transposed (mirrored
 * about the main diagonal), 6 rotated 90° clockwise to display, 7 transversed (mirrored about the
 * anti-diagonal), 8 rotated 90° counter-clockwise to display. Orientations 5–8 swap width and height.
 */
enum Orientation {
    NORMAL(1), MIRROR_HORIZONTAL(2), ROTATE_180(3), MIRROR_VERTICAL(4),
    TRANSPOSE(5), ROTATE_90_CW(6), TRANSVERSE(7), ROTATE_90_CCW(8);

    final int exifValue;

    Orientation(int exifValue) { this.exifValue = exifValue; }

    /** The orientation of an EXIF value, or null if the value is not 1..8. */
    static Orientation ofExif(int value) {
        return value >= 1 && value <= 8 ? values()[value - 1] : null;
    }

    boolean swapsAxes() { return exifValue >= 5; }

    /**
     * The upright image of a stored planar image ({@code channels × height × width}); returns the input
     * array itself for {@link #NORMAL}.
     */
    float[] apply(float[] planes, int channels, int width, int height) {
        if (this == NORMAL) return planes;
        int outW = swapsAxes() ? height : width;
        int outH = swapsAxes() ? width : height;
        int plane = width * height;
        float[] out = new float[planes.length];
        for (int c = 0; c < channels; c++) {
            int base = c * plane;
            for (int y = 0; y < outH; y++) {
                int row = base + y * outW;
                for (int x = 0; x < outW; x++) {
                    int sx;
                    int sy;
                    switch (this) {
                        case MIRROR_HORIZONTAL -> { sx = width - 1 - x; sy = y; }
                        case ROTATE_180 -> { sx = width - 1 - x; sy = height - 1 - y; }
                        case MIRROR_VERTICAL -> { sx = x; sy = height - 1 - y; }
                        case TRANSPOSE -> { sx = y; sy = x; }
                        case ROTATE_90_CW -> { sx = y; sy = height - 1 - x; }
                        case TRANSVERSE -> { sx = width - 1 - y; sy = height - 1 - x; }
                        case ROTATE_90_CCW -> { sx = width - 1 - y; sy = x; }
                        default -> throw new AssertionError(this);
                    }
                    out[row + x] = planes[base + sy * width + sx];
                }
            }
        }
        return out;
    }
}
