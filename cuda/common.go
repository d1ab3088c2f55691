package cuda

import (
	_ "embed"
	"fmt"
)

//go:embed kernels/kernels.cu
var kernelSource string

// kernelNames lists the kernels of kernels.cu that the package launches.
var kernelNames = []string{
	"lse_rows", "lse_cols_part", "lse_cols_done", "softmax_rows", "l2norm_rows",
	"sk_plan", "argmax_rows", "scale_log", "sela_err",
}

// cublasStatus names a cublasStatus_t value.
func cublasStatus(code int) string {
	switch code {
	case 0:
		return "CUBLAS_STATUS_SUCCESS"
	case 1:
		return "CUBLAS_STATUS_NOT_INITIALIZED"
	case 3:
		return "CUBLAS_STATUS_ALLOC_FAILED"
	case 7:
		return "CUBLAS_STATUS_INVALID_VALUE"
	case 8:
		return "CUBLAS_STATUS_ARCH_MISMATCH"
	case 11:
		return "CUBLAS_STATUS_MAPPING_ERROR"
	case 13:
		return "CUBLAS_STATUS_EXECUTION_FAILED"
	case 14:
		return "CUBLAS_STATUS_INTERNAL_ERROR"
	case 15:
		return "CUBLAS_STATUS_NOT_SUPPORTED"
	case 16:
		return "CUBLAS_STATUS_LICENSE_ERROR"
	}
	return fmt.Sprintf("CUBLAS_STATUS_%d", code)
}
