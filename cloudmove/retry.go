package cloudmove

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// errClass says what the retry loop does with an error.
type errClass int

const (
	// classRetry: throttling, 5xx, transport errors, timeouts and waits for
	// a resource's state: try again after a backoff.
	classRetry errClass = iota
	// classPermanent: a 4xx that cannot succeed by retrying (bad id,
	// missing permission): report at once.
	classPermanent
)

// retryableCode reports whether an API error code is one a later attempt
// may not meet: the SDK's own lists of throttling codes
// (RequestLimitExceeded, PriorRequestNotComplete, BandwidthLimitExceeded,
// ...) and of retryable codes (RequestTimeout, ...), kept up to date with
// the SDK rather than by hand. Server-side trouble (InternalError,
// Unavailable, ...) comes with a 5xx status, retried by status.
func retryableCode(code string) bool {
	_, throttle := retry.DefaultThrottleErrorCodes[code]
	_, retryable := retry.DefaultRetryableErrorCodes[code]
	return throttle || retryable
}

// waitError is a retryable condition of the resource itself (a volume
// still attached elsewhere, an attachment in progress): keep polling.
type waitError struct{ msg string }

func (w *waitError) Error() string { return w.msg }

func waitf(format string, args ...any) error { return &waitError{msg: fmt.Sprintf(format, args...)} }

// classify decides whether err is worth retrying.
func classify(err error) errClass {
	var we *waitError
	if errors.As(err, &we) {
		return classRetry
	}
	var ipe smithy.InvalidParamsError
	if errors.As(err, &ipe) {
		return classPermanent
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && retryableCode(ae.ErrorCode()) {
		return classRetry
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		if re.HTTPStatusCode() >= 500 || re.HTTPStatusCode() == 429 {
			return classRetry
		}
		if re.HTTPStatusCode() >= 400 && ae != nil {
			return classPermanent
		}
	}
	// No HTTP response: the connection failed, was reset or timed out, or
	// the response could not be read. The call may or may not have
	// happened; the retry loop looks before it acts again.
	return classRetry
}

// errorCode returns the API error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// describeError shortens an SDK error for status and logs, and names a
// missing permission.
func describeError(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		var oe *smithy.OperationError
		op := ""
		if errors.As(err, &oe) {
			op = oe.Operation()
		}
		if isDenied(ae.ErrorCode()) && op != "" {
			return fmt.Sprintf("missing IAM permission ec2:%s (%s)", op, ae.ErrorCode())
		}
		msg := ae.ErrorMessage()
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		if op != "" {
			return fmt.Sprintf("%s: %s: %s", op, ae.ErrorCode(), msg)
		}
		return ae.ErrorCode() + ": " + msg
	}
	return err.Error()
}

func isDenied(code string) bool {
	return code == "UnauthorizedOperation" || code == "AccessDenied" || code == "AccessDeniedException" ||
		strings.HasPrefix(code, "Unauthorized")
}

// callWith runs fn with a per-call timeout derived from ctx.
func callWith[T any](ctx context.Context, timeout time.Duration, fn func(ctx context.Context) (T, error)) (T, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return fn(cctx)
}
